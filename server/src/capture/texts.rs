//! Capture page texts in every supported language.

use crate::domain::Language;

pub struct Texts {
    pub title: &'static str,
    pub intro_enrollment: &'static str,
    pub intro_verification: &'static str,
    pub step_document: &'static str,
    pub step_selfie: &'static str,
    pub step_liveness: &'static str,
    pub start: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub ended_title: &'static str,
    pub ended_body: &'static str,
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
    title: "Confirm it's you",
    intro_enrollment: "To set up your identity check you will need your ID card and about a minute.",
    intro_verification: "To confirm your login, take a selfie and follow a short movement prompt.",
    step_document: "Photograph the front of your ID card",
    step_selfie: "Take a selfie",
    step_liveness: "Follow the on-screen movement prompts",
    start: "Start",
    not_found_title: "This link is not valid",
    not_found_body: "Check that you opened the whole link from your message, or ask for a new one.",
    ended_title: "This link has expired",
    ended_body: "This verification has already ended or timed out. Please start again from the app or website that sent you the link.",
};

const DE: Texts = Texts {
    title: "Bestätigen Sie, dass Sie es sind",
    intro_enrollment: "Für die Einrichtung Ihrer Identitätsprüfung brauchen Sie Ihren Personalausweis und etwa eine Minute.",
    intro_verification: "Zur Bestätigung Ihrer Anmeldung machen Sie ein Selfie und folgen einer kurzen Bewegungsanweisung.",
    step_document: "Fotografieren Sie die Vorderseite Ihres Ausweises",
    step_selfie: "Machen Sie ein Selfie",
    step_liveness: "Folgen Sie den Bewegungsanweisungen auf dem Bildschirm",
    start: "Los geht's",
    not_found_title: "Dieser Link ist ungültig",
    not_found_body: "Prüfen Sie, ob Sie den vollständigen Link aus Ihrer Nachricht geöffnet haben, oder fordern Sie einen neuen an.",
    ended_title: "Dieser Link ist abgelaufen",
    ended_body: "Diese Prüfung ist bereits beendet oder abgelaufen. Bitte beginnen Sie erneut in der App oder auf der Website, die Ihnen den Link geschickt hat.",
};

const FR: Texts = Texts {
    title: "Confirmez votre identité",
    intro_enrollment: "Pour configurer la vérification de votre identité, il vous faut votre carte d'identité et environ une minute.",
    intro_verification: "Pour confirmer votre connexion, prenez un selfie et suivez une courte consigne de mouvement.",
    step_document: "Photographiez le recto de votre carte d'identité",
    step_selfie: "Prenez un selfie",
    step_liveness: "Suivez les consignes de mouvement à l'écran",
    start: "Commencer",
    not_found_title: "Ce lien n'est pas valide",
    not_found_body: "Vérifiez que vous avez ouvert le lien complet de votre message, ou demandez-en un nouveau.",
    ended_title: "Ce lien a expiré",
    ended_body: "Cette vérification est déjà terminée ou a expiré. Recommencez depuis l'application ou le site qui vous a envoyé le lien.",
};

const ES: Texts = Texts {
    title: "Confirme que es usted",
    intro_enrollment: "Para configurar su verificación de identidad necesitará su documento de identidad y un minuto.",
    intro_verification: "Para confirmar su inicio de sesión, hágase un selfie y siga una breve indicación de movimiento.",
    step_document: "Fotografíe el anverso de su documento de identidad",
    step_selfie: "Hágase un selfie",
    step_liveness: "Siga las indicaciones de movimiento en pantalla",
    start: "Empezar",
    not_found_title: "Este enlace no es válido",
    not_found_body: "Compruebe que ha abierto el enlace completo de su mensaje o solicite uno nuevo.",
    ended_title: "Este enlace ha caducado",
    ended_body: "Esta verificación ya ha terminado o ha caducado. Vuelva a empezar desde la aplicación o el sitio web que le envió el enlace.",
};

const HR: Texts = Texts {
    title: "Potvrdite da ste to vi",
    intro_enrollment: "Za postavljanje provjere identiteta trebate osobnu iskaznicu i otprilike minutu vremena.",
    intro_verification: "Za potvrdu prijave snimite selfie i slijedite kratku uputu za pokret.",
    step_document: "Fotografirajte prednju stranu osobne iskaznice",
    step_selfie: "Snimite selfie",
    step_liveness: "Slijedite upute za pokrete na zaslonu",
    start: "Započni",
    not_found_title: "Ova poveznica nije valjana",
    not_found_body: "Provjerite jeste li otvorili cijelu poveznicu iz poruke ili zatražite novu.",
    ended_title: "Ova poveznica je istekla",
    ended_body: "Ova provjera je već završena ili je istekla. Započnite ponovno u aplikaciji ili na web-stranici koja vam je poslala poveznicu.",
};
