/**
 * The rater page's script (runs in the browser; served as client.js under the study's token).
 * It remembers the rater's id (URL ?rater= or localStorage), asks the server for the first
 * unanswered pair, shows it once both images have loaded, and sends the answer — buttons or
 * the keys ← / → / ↓ — with the time since the images appeared. `window.rating` exposes the
 * state (tests read it).
 */
interface NextPair {
  rater: string;
  done: number;
  total: number;
  finished: boolean;
  pair: { id: number; prompt: string; question: string; left: string; right: string } | null;
}

type Answer = "left" | "right" | "tie";

const state = {
  rater: "",
  pairId: 0,
  done: 0,
  total: 0,
  /** True while a pair is on screen and can be answered. */
  ready: false,
  busy: false,
  shownAt: 0,
  answers: 0,
};
(window as unknown as { rating: typeof state }).rating = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const storageKey = `grpo-guard-rater:${location.pathname}`;
const buttons = () => ["choose-left", "choose-right", "choose-tie"].map((id) => $<HTMLButtonElement>(id));

function message(text: string): void {
  $("message").textContent = text;
}

function setReady(ready: boolean): void {
  state.ready = ready;
  buttons().forEach((b) => (b.disabled = !ready));
}

async function show(next: NextPair): Promise<void> {
  state.done = next.done;
  state.total = next.total;
  $("progress").textContent = `${Math.min(next.done + 1, next.total)} of ${next.total}`;
  $<HTMLProgressElement>("progress-bar").value = next.done;
  if (next.finished || !next.pair) {
    $("rate").hidden = true;
    $("done").hidden = false;
    $<HTMLAnchorElement>("results-link").href = `results?rater=${encodeURIComponent(state.rater)}`;
    setReady(false);
    return;
  }
  setReady(false);
  state.pairId = next.pair.id;
  $("question").textContent = next.pair.question;
  const left = $<HTMLImageElement>("left");
  const right = $<HTMLImageElement>("right");
  left.src = next.pair.left;
  right.src = next.pair.right;
  try {
    await Promise.all([left.decode(), right.decode()]);
  } catch {
    message("An image failed to load; reload the page to try again.");
    return;
  }
  if (state.pairId !== next.pair.id) return;
  $("rate").hidden = false;
  state.shownAt = performance.now();
  setReady(true);
}

async function fetchNext(): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`api/next?rater=${encodeURIComponent(state.rater)}`, { cache: "no-store" });
  } catch {
    message("The rating server cannot be reached; your answers so far are saved. Reload when it is back.");
    return;
  }
  if (!response.ok) {
    message(`The server refused: ${(await response.json()).error ?? response.status}`);
    return;
  }
  await show((await response.json()) as NextPair);
}

async function answer(choice: Answer): Promise<void> {
  if (!state.ready || state.busy) return;
  state.busy = true;
  setReady(false);
  try {
    const response = await fetch("api/votes", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rater: state.rater, pairId: state.pairId, answer: choice, timeMs: Math.round(performance.now() - state.shownAt) }),
    });
    if (response.status === 201) {
      state.answers += 1;
      message("");
      await show((await response.json()) as NextPair);
    } else if (response.status === 409) {
      // Answered already (another tab, or a double press): move on.
      await fetchNext();
    } else {
      message(`Your answer was not saved (${response.status}: ${(await response.json()).error ?? ""}); try again.`);
      setReady(true);
    }
  } catch {
    message("The rating server cannot be reached; your answers so far are saved. Reload when it is back.");
    setReady(true);
  } finally {
    state.busy = false;
  }
}

function start(rater: string): void {
  state.rater = rater;
  localStorage.setItem(storageKey, rater);
  const url = new URL(location.href);
  url.searchParams.set("rater", rater);
  history.replaceState(null, "", url);
  $("signin").hidden = true;
  $("rater-name").textContent = `rating as ${rater}`;
  void fetchNext();
}

const RATER = /^[\p{L}\p{N} ._@-]{1,64}$/u;

$("start").addEventListener("click", () => {
  const rater = $<HTMLInputElement>("rater-input").value.trim();
  if (!RATER.test(rater)) {
    message("Please give a name or initials (letters, digits, spaces, . _ @ -).");
    return;
  }
  message("");
  start(rater);
});
$<HTMLInputElement>("rater-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter") $("start").click();
});
$("choose-left").addEventListener("click", () => void answer("left"));
$("choose-right").addEventListener("click", () => void answer("right"));
$("choose-tie").addEventListener("click", () => void answer("tie"));
document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) return;
  const choice = ({ ArrowLeft: "left", ArrowRight: "right", ArrowDown: "tie" } as Record<string, Answer>)[e.key];
  if (!choice) return;
  e.preventDefault();
  void answer(choice);
});

const given = (new URL(location.href).searchParams.get("rater") ?? localStorage.getItem(storageKey) ?? "").trim();
if (RATER.test(given)) start(given);
else $("signin").hidden = false;
export {};
