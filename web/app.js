// ThirdFactor capture page. No inline scripts (CSP); talks only to its own server, with the
// capture cookie. Steps: consent → document (rear camera) → selfie (front camera) →
// liveness challenge → result → redirect.
(function () {
  "use strict";

  var I18N = window.TF_I18N || {};
  var lang = "en";
  var state = null;
  var stream = null;
  var autoTimer = null;
  var busy = false;

  function $(id) { return document.getElementById(id); }

  function t(key, vars) {
    var table = I18N[lang] || I18N.en || {};
    var text = table[key] !== undefined ? table[key] : (I18N.en || {})[key];
    text = text === undefined ? key : text;
    Object.keys(vars || {}).forEach(function (k) { text = text.replace("{" + k + "}", vars[k]); });
    return text;
  }

  function reasonText(code) {
    var table = (I18N[lang] || {}).reasons || {};
    return table[code] || ((I18N.en || {}).reasons || {})[code] || code;
  }

  function applyTranslations() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
  }

  function announce(text) {
    var a = $("announcer");
    a.textContent = "";
    window.setTimeout(function () { a.textContent = text; }, 50);
  }

  function show(viewId) {
    document.querySelectorAll(".view").forEach(function (v) { v.hidden = v.id !== viewId; });
    var heading = document.querySelector("#" + viewId + " h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }

  function message(titleKey, bodyKey, icon, action) {
    stopCamera();
    $("message-title").textContent = t(titleKey);
    $("message-body").textContent = t(bodyKey);
    $("message-icon").textContent = icon || "\u26A0";
    $("message-icon").className = "icon" + (icon === "\u2714" ? " ok" : "");
    var button = $("message-action");
    button.hidden = !action;
    if (action) {
      button.textContent = t(action.label);
      button.onclick = action.run;
    }
    // While the session is open the user can still give up from here (camera refused, …).
    $("message-cancel").hidden = !sessionOpen();
    show("view-message");
  }

  function sessionOpen() {
    return !!state && (state.status === "created" || state.status === "in_progress");
  }

  function api(method, path, body) {
    return fetch(path, { method: method, body: body, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          return { status: response.status, body: json };
        });
      });
  }

  // --- progress and branding --------------------------------------------------------------

  function renderProgress() {
    var list = $("progress");
    list.innerHTML = "";
    var current = state.steps.indexOf(state.step);
    state.steps.forEach(function (step, i) {
      var li = document.createElement("li");
      li.className = i < current ? "done" : (i === current ? "current" : "");
      li.setAttribute("aria-label", t("step." + step) + (i === current ? " (current)" : ""));
      list.appendChild(li);
    });
  }

  // The server sends only validated profiles (#rrggbb colours meeting WCAG AA on the white
  // page, a text colour chosen for the primary, a same-origin logo URL): see server/src/branding.rs.
  function applyBranding() {
    var b = state.branding_profile;
    if (!b) { return; }
    var root = document.documentElement.style;
    // CSSOM writes are allowed under the CSP (style attributes in markup are not).
    if (b.primary_color) { root.setProperty("--brand", b.primary_color); }
    if (b.primary_text_color) { root.setProperty("--brand-text", b.primary_text_color); }
    if (b.accent_color) { root.setProperty("--accent", b.accent_color); }
    var name = $("brand-name");
    if (b.display_name) { name.textContent = b.display_name; }
    if (b.logo_url && !document.getElementById("brand-logo")) {
      var logo = document.createElement("img");
      logo.id = "brand-logo";
      logo.className = "brand-logo";
      logo.src = b.logo_url;
      // The display name next to it already names the brand: the logo is decorative.
      logo.alt = "";
      logo.height = 32;
      logo.addEventListener("error", function () { logo.remove(); });
      // Inside the name's span, so the header keeps its two-part layout (name | progress).
      name.insertBefore(document.createTextNode(" "), name.firstChild);
      name.insertBefore(logo, name.firstChild);
    }
  }

  // --- camera ---------------------------------------------------------------------------

  function startCamera(facing) {
    stopCamera();
    var constraints = {
      audio: false,
      video: { facingMode: { ideal: facing }, width: { ideal: facing === "environment" ? 1920 : 1280 },
               height: { ideal: facing === "environment" ? 1080 : 720 } }
    };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (s) {
      stream = s;
      var video = $("video");
      video.srcObject = s;
      var box = document.querySelector(".viewfinder");
      box.classList.toggle("mirror", facing === "user");
      box.style.aspectRatio = "";
      return video.play().catch(function () {}).then(function () { return waitForVideo(video); });
    });
  }

  // The card frame is drawn on the whole picture that is uploaded: a landscape camera gets a
  // landscape viewfinder (cropped to portrait, the card would overflow its frame on screen yet
  // come out small in the photo).
  function showWholePicture() {
    var video = $("video");
    if (video.videoWidth > video.videoHeight) {
      document.querySelector(".viewfinder").style.aspectRatio = video.videoWidth + " / " + video.videoHeight;
    }
  }

  function waitForVideo(video) {
    return new Promise(function (resolve) {
      if (video.videoWidth > 0) { resolve(); return; }
      video.addEventListener("loadedmetadata", function () { resolve(); }, { once: true });
    });
  }

  function stopCamera() {
    if (autoTimer) { window.clearInterval(autoTimer); autoTimer = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
  }

  function cameraError(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      message("error.denied.title", "error.denied.body", "\u26A0", { label: "retry", run: function () { runStep(); } });
    } else if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError") {
      message("error.nocamera.title", "error.nocamera.body");
    } else {
      message("error.nocamera.title", "error.nocamera.body");
    }
  }

  // A frame of the video as a JPEG blob, its longer side at most maxSide.
  function grab(maxSide, quality) {
    var video = $("video");
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, maxSide / Math.max(w, h));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
  }

  // Sharpness (variance of a Laplacian) and mean grey of a small grey copy of the frame.
  function measure(prev) {
    var video = $("video");
    var w = 160, h = Math.max(1, Math.round(160 * video.videoHeight / Math.max(1, video.videoWidth)));
    var canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, h);
    var px = ctx.getImageData(0, 0, w, h).data;
    var grey = new Float32Array(w * h);
    for (var i = 0; i < w * h; i++) { grey[i] = 0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2]; }
    var sum = 0, sumSq = 0, n = 0, motion = 0;
    for (var y = 1; y < h - 1; y++) {
      for (var x = 1; x < w - 1; x++) {
        var k = y * w + x;
        var lap = 4 * grey[k] - grey[k - 1] - grey[k + 1] - grey[k - w] - grey[k + w];
        sum += lap; sumSq += lap * lap; n++;
        if (prev) { motion += Math.abs(grey[k] - prev[k]); }
      }
    }
    var mean = sum / n;
    return { grey: grey, sharpness: sumSq / n - mean * mean, motion: prev ? motion / n : Infinity };
  }

  // Captures automatically once the picture is sharp and steady for a few samples.
  function armAutoCapture(onReady) {
    var prev = null, steadyCount = 0;
    autoTimer = window.setInterval(function () {
      if (busy || !stream) { return; }
      var m = measure(prev);
      prev = m.grey;
      var ready = m.sharpness > 60 && m.motion < 4;
      $("overlay").classList.toggle("ready", ready);
      steadyCount = ready ? steadyCount + 1 : 0;
      if (steadyCount === 1) { $("feedback").textContent = t("steady"); $("feedback").className = "feedback ok"; }
      if (steadyCount >= 4) { steadyCount = 0; onReady(); }
    }, 250);
  }

  // --- steps ----------------------------------------------------------------------------

  function runStep() {
    renderProgress();
    if (state.step === "document") { return photoStep("document", "environment", "card", "doc"); }
    if (state.step === "selfie") { return photoStep("selfie", "user", "oval", "selfie"); }
    if (state.step === "liveness") { return livenessStep(); }
    return loadState();
  }

  function photoStep(step, facing, overlay, textPrefix) {
    $("camera-title").textContent = t(textPrefix + ".title");
    $("camera-hint").textContent = t(textPrefix + ".hint");
    $("overlay").className = "overlay " + overlay;
    $("prompt").hidden = true;
    $("feedback").textContent = "";
    $("shutter").hidden = false;
    $("retry").hidden = true;
    show("view-camera");
    startCamera(facing).then(function () {
      if (overlay === "card") { showWholePicture(); }
      var shoot = function () { uploadPhoto(step); };
      $("shutter").onclick = shoot;
      // After a rejected photo, automatic capture waits for the user: retaking at once would
      // spend the limited attempts before the feedback could be read and acted on.
      $("retry").onclick = function () {
        $("retry").hidden = true;
        $("feedback").textContent = "";
        armAutoCapture(shoot);
        $("shutter").focus();
      };
      armAutoCapture(shoot);
    }).catch(cameraError);
  }

  function uploadPhoto(step) {
    if (busy) { return; }
    busy = true;
    $("feedback").textContent = t("uploading");
    $("feedback").className = "feedback ok";
    grab(step === "document" ? 2560 : 1280, 0.92).then(function (blob) {
      var form = new FormData();
      form.append("image", blob, step + ".jpg");
      return api("POST", "/api/capture/" + step, form);
    }).then(handleStepResponse).catch(function () {
      message("error.network.title", "error.network.body", "\u26A0", { label: "retry", run: runStep });
    }).then(function () { busy = false; });
  }

  function handleStepResponse(response) {
    var body = response.body || {};
    if (response.status === 401) { return message("error.link.title", "error.link.body"); }
    if (response.status === 410) { return loadState(); }
    if (body.accepted) {
      $("feedback").textContent = t("accepted");
      announce(t("accepted"));
      stopCamera();
      return loadState();
    }
    var reasons = body.reasons || (body.error ? [body.error.code] : []);
    var text = reasons.map(reasonText).join(" ");
    if (body.attempts_left !== undefined) { text += " " + t("attempts_left", { n: body.attempts_left }); }
    $("feedback").textContent = text;
    $("feedback").className = "feedback";
    if (body.session_ended) { stopCamera(); return loadState(); }
    offerRetry();
  }

  // A rejected attempt: stop capturing and let the user start the next one when ready.
  function offerRetry() {
    if (autoTimer) { window.clearInterval(autoTimer); autoTimer = null; }
    $("overlay").classList.remove("ready");
    var retry = $("retry");
    if (state.step === "liveness") {
      retry.onclick = function () { livenessStep(); };
    }
    retry.hidden = false;
    retry.focus();
  }

  function livenessStep() {
    $("camera-title").textContent = t("live.title");
    $("camera-hint").textContent = t("live.hint");
    $("overlay").className = "overlay oval";
    $("feedback").textContent = "";
    $("shutter").hidden = true;
    $("retry").hidden = true;
    show("view-camera");
    startCamera("user").then(function () {
      return api("POST", "/api/capture/liveness/challenge");
    }).then(function (response) {
      if (response.status !== 200) { return handleStepResponse(response); }
      return performChallenge(response.body);
    }).catch(cameraError);
  }

  var ICONS = { turn_left: "\u2B05", turn_right: "\u27A1", look_up: "\u2B06", blink: "\uD83D\uDC41" };

  // Shows each action in turn while grabbing frames with their capture times.
  function performChallenge(challenge) {
    var frames = [];
    var actions = challenge.actions || [];
    var lead = 600;
    var perAction = Math.max(1200, Math.floor((challenge.window_ms || 6000) * 0.8 / Math.max(1, actions.length)));
    // Frames cover the whole challenge, every action included, within the server's limit
    // (at most 30 per answer).
    var maxFrames = 28;
    var interval = Math.max(150, Math.ceil((lead + perAction * actions.length) / maxFrames));
    var prompt = $("prompt");
    prompt.hidden = false;
    $("prompt-icon").textContent = "";
    $("prompt-text").textContent = t("live.ready");
    var started = Date.now();
    var grabber = window.setInterval(function () {
      if (frames.length >= maxFrames) { return; }
      var at = Date.now();
      grab(640, 0.85).then(function (blob) { if (blob) { frames.push({ blob: blob, t: at }); } });
    }, interval);
    var index = -1;
    var nextAction = function () {
      index++;
      if (index >= actions.length) {
        window.clearInterval(grabber);
        prompt.hidden = true;
        window.setTimeout(function () { submitFrames(challenge, frames); }, 300);
        return;
      }
      var a = actions[index];
      $("prompt-icon").textContent = ICONS[a] || "";
      $("prompt-text").textContent = t("action." + a);
      announce(t("action." + a));
      window.setTimeout(nextAction, perAction);
    };
    window.setTimeout(nextAction, Math.max(0, lead - (Date.now() - started)));
  }

  function submitFrames(challenge, frames) {
    busy = true;
    $("feedback").textContent = t("uploading");
    $("feedback").className = "feedback ok";
    var form = new FormData();
    form.append("meta", JSON.stringify({ nonce: challenge.nonce, timestamps: frames.map(function (f) { return f.t; }) }));
    frames.forEach(function (f, i) { form.append("frame", f.blob, "frame" + i + ".jpg"); });
    api("POST", "/api/capture/liveness", form).then(handleStepResponse).catch(function () {
      message("error.network.title", "error.network.body", "\u26A0", { label: "retry", run: runStep });
    }).then(function () { busy = false; });
  }

  // --- result, cancel ---------------------------------------------------------------------

  function showResult() {
    var status = state.status;
    var icon = status === "approved" ? "\u2714" : "\u26A0";
    var key = status === "approved" || status === "rejected" || status === "cancelled" ? status : "rejected";
    message("result." + key + ".title", "result." + key + ".body", icon);
    if (state.redirect_url) {
      $("message-body").textContent += " " + t("redirecting");
      window.setTimeout(function () { window.location.assign(state.redirect_url); }, 2500);
    }
  }

  function cancel() {
    api("POST", "/api/capture/cancel").then(function (response) {
      stopCamera();
      if (response.body && response.body.redirect_url) { window.location.assign(response.body.redirect_url); }
      else { loadState(); }
    });
  }

  // --- start ------------------------------------------------------------------------------

  function loadState() {
    return api("GET", "/api/capture/state").then(function (response) {
      if (response.status === 401) { return message("error.link.title", "error.link.body"); }
      if (response.status === 410 || response.status === 404) { return message("error.ended.title", "error.ended.body"); }
      state = response.body;
      lang = I18N[state.language] ? state.language : "en";
      applyTranslations();
      applyBranding();
      if (state.status !== "created" && state.status !== "in_progress") { return showResult(); }
      if (state.status === "created" && !state.consented) { return showConsent(); }
      return runStep();
    }).catch(function () {
      message("error.network.title", "error.network.body", "\u26A0", { label: "retry", run: loadState });
    });
  }

  function showConsent() {
    $("consent-intro").textContent = t("consent.intro." + state.type);
    var list = $("step-list");
    list.innerHTML = "";
    state.steps.forEach(function (step) {
      var li = document.createElement("li");
      li.textContent = t("step." + step);
      list.appendChild(li);
    });
    renderProgress();
    show("view-consent");
    $("consent-accept").onclick = function () { state.consented = true; runStep(); };
  }

  function init() {
    document.querySelectorAll(".cancel").forEach(function (b) { b.addEventListener("click", cancel); });
    lang = (document.documentElement.lang || "en").slice(0, 2);
    applyTranslations();
    if (!window.isSecureContext) { return message("error.insecure.title", "error.insecure.body"); }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return message("error.nocamera.title", "error.nocamera.body");
    }
    loadState();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
