// Drives the capture page in Debian's headless Chromium for one camera: the Rust test
// (tests/e2e/main.rs) runs this once per capture step, because Chromium's fake camera plays one
// file per browser process. The session continues across runs through the saved cookie.
//
// Input: TF_E2E_PLAN, a JSON object
//   url          page to open first (the SMS link or /capture)
//   camera       Y4M file the fake camera plays from its first frame when opened (optional)
//   deny_camera  true: the camera permission is refused
//   state_in     Playwright storage state (cookies) to start from (optional)
//   state_out    where to save the storage state at the end (optional)
//   shots        directory for screenshots, or null
//   allow        capture API paths this browser may POST to; other uploads are aborted so a
//                step is never answered with another step's camera
//   redirects    URL prefixes of the integrator (return_url/cancel_url), answered locally
//   actions      [{do: "consent"|"capture"|"liveness"|"message"|"redirect"|"cancel", ...}]
// Output (stdout): one JSON report {results: [...], final_url, errors: [...]}.
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const plan = JSON.parse(process.env.TF_E2E_PLAN);
const timeout = plan.timeout_ms || 30000;

function launchArgs() {
  const args = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream",
    plan.deny_camera ? "--use-fake-ui-for-media-stream=deny" : "--use-fake-ui-for-media-stream",
  ];
  if (plan.camera) { args.push(`--use-file-for-fake-video-capture=${plan.camera}`); }
  return args;
}

async function shot(page, name) {
  if (!plan.shots || !name) { return; }
  // Let transitions and the video frame settle, and hide the blinking caret.
  await page.waitForTimeout(150);
  await page.screenshot({ path: `${plan.shots}/${name}.png`, caret: "hide", animations: "disabled" });
}

async function visibleText(page, selector) {
  return (await page.locator(selector).innerText().catch(() => "")).trim();
}

// Waits for the page's POST to a capture step and returns its status and JSON body.
async function stepResponse(page, path) {
  const response = await page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === path, { timeout });
  return { status: response.status(), body: await response.json().catch(() => null) };
}

// The page shows its feedback once it has handled the step's reply (none on some paths).
async function feedbackShown(page) {
  await page.waitForFunction(
    () => { const f = document.getElementById("feedback"); return f && f.textContent.trim().length > 0; },
    null, { timeout }).catch(() => {});
}

const actions = {
  async consent(page, a) {
    await page.locator("#consent-accept").waitFor({ state: "visible", timeout });
    const result = { title: await visibleText(page, "#consent-title"), steps: await visibleText(page, "#step-list") };
    await shot(page, a.shot);
    await page.locator("#consent-accept").click();
    return result;
  },

  // A photo step: the page auto-captures once the (fake) camera picture is sharp and steady.
  async capture(page, a) {
    const pending = stepResponse(page, `/api/capture/${a.step}`);
    await page.locator("#view-camera").waitFor({ state: "visible", timeout });
    await page.waitForFunction(() => document.getElementById("video").videoWidth > 0, null, { timeout });
    const title = await visibleText(page, "#camera-title");
    if (a.shot) { await shot(page, a.shot); }
    const response = await pending;
    await feedbackShown(page);
    if (a.shot_after) { await shot(page, a.shot_after); }
    return { title, response, feedback: await visibleText(page, "#feedback") };
  },

  // The liveness challenge: prompts shown one at a time while frames are captured.
  async liveness(page, a) {
    const pending = stepResponse(page, "/api/capture/liveness");
    const prompts = [];
    await page.locator("#prompt-icon").filter({ hasText: /\S/ }).waitFor({ state: "visible", timeout });
    prompts.push(await visibleText(page, "#prompt-text"));
    if (a.shot) { await shot(page, a.shot); }
    const response = await pending;
    await feedbackShown(page);
    if (a.shot_after) { await shot(page, a.shot_after); }
    return { prompts, response, feedback: await visibleText(page, "#feedback") };
  },

  // A message view of the page (result, errors) or a server-rendered message page.
  async message(page, a) {
    const heading = page.locator("main h1:visible");
    await heading.first().waitFor({ state: "visible", timeout });
    if (a.wait_text) { await page.getByText(a.wait_text).first().waitFor({ timeout }); }
    const result = { title: (await heading.first().innerText()).trim(), body: await visibleText(page, "main") };
    await shot(page, a.shot);
    return result;
  },

  // The page sends the browser on to the integrator's URL.
  async redirect(page, a) {
    await page.waitForURL((u) => u.href.startsWith(a.to), { timeout });
    return { url: page.url() };
  },

  async cancel(page, a) {
    await page.locator(".cancel:visible").first().click();
    await page.waitForURL((u) => u.href.startsWith(a.to), { timeout });
    return { url: page.url() };
  },
};

async function main() {
  const browser = await chromium.launch({ executablePath: plan.chromium || "/usr/bin/chromium", headless: true,
    args: launchArgs() });
  const errors = [];
  const report = { results: [], errors };
  try {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true,
      locale: plan.locale || "en-US", storageState: plan.state_in || undefined,
    });
    await context.route("**/api/capture/**", (route) => {
      const path = new URL(route.request().url()).pathname;
      const upload = route.request().method() === "POST" && path !== "/api/capture/cancel";
      if (upload && !(plan.allow || []).includes(path)) { return route.abort("blockedbyclient"); }
      return route.continue();
    });
    for (const prefix of plan.redirects || []) {
      await context.route(`${prefix}**`, (route) => route.fulfill({
        status: 200, contentType: "text/html", body: "<!doctype html><title>integrator</title><h1>integrator</h1>",
      }));
    }
    const page = await context.newPage();
    // TF_E2E_DEBUG_DIR keeps the raw multipart uploads, to look at what the server was sent.
    if (process.env.TF_E2E_DEBUG_DIR) {
      let n = 0;
      page.on("request", (r) => {
        if (r.method() !== "POST" || !r.url().includes("/api/capture/")) { return; }
        const body = r.postDataBuffer();
        if (body) { writeFileSync(`${process.env.TF_E2E_DEBUG_DIR}/upload-${Date.now()}-${n++}.bin`, body); }
      });
    }
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") { errors.push(`console: ${m.text()}`); } });
    await page.goto(plan.url, { waitUntil: "domcontentloaded", timeout });
    for (const a of plan.actions) {
      const started = Date.now();
      const result = await actions[a.do](page, a);
      report.results.push({ do: a.do, ms: Date.now() - started, ...result });
    }
    report.final_url = page.url();
    if (plan.state_out) { await context.storageState({ path: plan.state_out }); }
  } catch (e) {
    report.failure = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report) + "\n");
}

await main();
