//! Texts of the server-rendered link pages (unknown, ended, already used) in every
//! supported language; the capture page itself is translated by web/i18n.js.

use crate::domain::Language;

pub struct Texts {
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub ended_title: &'static str,
    pub ended_body: &'static str,
    pub used_title: &'static str,
    pub used_body: &'static str,
}

pub fn texts(lang: Language) -> &'static Texts {
    match lang {
        Language::En => &EN,
        Language::De => &DE,
        Language::Fr => &FR,
        Language::Es => &ES,
        Language::Hr => &HR,
    }
}

const EN: Texts = Texts {
    not_found_title: "This link is not valid",
    not_found_body: "Check that you opened the whole link from your message, or ask for a new one.",
    ended_title: "This link has expired",
    ended_body: "This verification has already ended or timed out. Please start again from the app or website that sent you the link.",
    used_title: "This link has already been used",
    used_body: "For your security each link opens once. Continue in the browser where you first opened it, or ask for a new link.",
};

const DE: Texts = Texts {
    not_found_title: "Dieser Link ist ungültig",
    not_found_body: "Prüfen Sie, ob Sie den vollständigen Link aus Ihrer Nachricht geöffnet haben, oder fordern Sie einen neuen an.",
    ended_title: "Dieser Link ist abgelaufen",
    ended_body: "Diese Prüfung ist bereits beendet oder abgelaufen. Bitte beginnen Sie erneut in der App oder auf der Website, die Ihnen den Link geschickt hat.",
    used_title: "Dieser Link wurde bereits verwendet",
    used_body: "Zu Ihrer Sicherheit lässt sich jeder Link nur einmal öffnen. Fahren Sie in dem Browser fort, in dem Sie ihn zuerst geöffnet haben, oder fordern Sie einen neuen Link an.",
};

const FR: Texts = Texts {
    not_found_title: "Ce lien n'est pas valide",
    not_found_body: "Vérifiez que vous avez ouvert le lien complet de votre message, ou demandez-en un nouveau.",
    ended_title: "Ce lien a expiré",
    ended_body: "Cette vérification est déjà terminée ou a expiré. Recommencez depuis l'application ou le site qui vous a envoyé le lien.",
    used_title: "Ce lien a déjà été utilisé",
    used_body: "Pour votre sécurité, chaque lien ne s'ouvre qu'une fois. Continuez dans le navigateur où vous l'avez ouvert, ou demandez un nouveau lien.",
};

const ES: Texts = Texts {
    not_found_title: "Este enlace no es válido",
    not_found_body: "Compruebe que ha abierto el enlace completo de su mensaje o solicite uno nuevo.",
    ended_title: "Este enlace ha caducado",
    ended_body: "Esta verificación ya ha terminado o ha caducado. Vuelva a empezar desde la aplicación o el sitio web que le envió el enlace.",
    used_title: "Este enlace ya se ha utilizado",
    used_body: "Por su seguridad, cada enlace se abre una sola vez. Continúe en el navegador donde lo abrió o solicite un enlace nuevo.",
};

const HR: Texts = Texts {
    not_found_title: "Ova poveznica nije valjana",
    not_found_body: "Provjerite jeste li otvorili cijelu poveznicu iz poruke ili zatražite novu.",
    ended_title: "Ova poveznica je istekla",
    ended_body: "Ova provjera je već završena ili je istekla. Započnite ponovno u aplikaciji ili na web-stranici koja vam je poslala poveznicu.",
    used_title: "Ova poveznica je već iskorištena",
    used_body: "Radi vaše sigurnosti svaka se poveznica otvara samo jednom. Nastavite u pregledniku u kojem ste je prvi put otvorili ili zatražite novu poveznicu.",
};
