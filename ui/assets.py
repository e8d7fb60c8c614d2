"""What the browser runs besides Gradio's own code: the stylesheet and two small scripts.

Colours come from the Gradio theme variables, so dark mode works too.
"""

# A hidden bridge: clicking a #rq-open?... link (a quote, a passage) sends its span to Python,
# which answers with the document viewer scrolled to that span.
BRIDGE_JS = """
if (!window.__rqBridge) {
  window.__rqBridge = true;
  document.addEventListener('click', (ev) => {
    const link = ev.target && ev.target.closest ? ev.target.closest('a[href*="#rq-open?"]') : null;
    if (!link) return;
    ev.preventDefault();
    ev.stopPropagation();
    const href = link.getAttribute('href');
    const span = Object.fromEntries(new URLSearchParams(href.slice(href.indexOf('?') + 1)));
    props.value = JSON.stringify({...span, nonce: Date.now()});
    trigger('click');
  }, true);
}
"""
# Scroll the viewer so the highlighted quote sits in the upper third of the panel, in the text and
# on a PDF's page image.
VIEWER_JS = """
const scroll = (tries) => {
  const mark = element.querySelector('mark.rq-target');
  const box = element.querySelector('.rq-doc-text');
  if (!mark || !box) return;
  if (box.clientHeight === 0 && tries > 0) { setTimeout(() => scroll(tries - 1), 60); return; }
  box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  const hl = element.querySelector('.rq-hl');
  const page = element.querySelector('.rq-page-scroll');
  if (hl && page) page.scrollTop = Math.max(0, hl.offsetTop - page.clientHeight / 3);
};
watch('value', () => requestAnimationFrame(() => scroll(25)));
scroll(25);
"""
# After each update of the chat: keep the top of the newest answer (its short answer) in view, not
# the end of its quotes, as the chat's own autoscroll would.
SCROLL_JS = """
() => requestAnimationFrame(() => {
  const chat = document.querySelector('#rq-chat');
  const answers = chat ? chat.querySelectorAll('.message.bot, .message-row.bot-row, [data-testid="bot"]') : [];
  const last = answers[answers.length - 1];
  if (!last) return;
  let box = last.parentElement;
  while (box && box !== document.body) {
    const style = getComputedStyle(box);
    if (box.scrollHeight > box.clientHeight + 2 && /(auto|scroll)/.test(style.overflowY)) break;
    box = box.parentElement;
  }
  if (!box || box === document.body) return;
  const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  box.scrollTop = Math.max(0, top - 56);  // the question just above the answer stays in view
})
"""
# On a narrow screen the document sits below the chat: bring it into view when a quote opens it.
SHOW_VIEWER_JS = """
() => {
  if (window.innerWidth > 800) return;
  const side = document.querySelector('#rq-side');
  if (side) requestAnimationFrame(() => side.scrollIntoView({behavior: 'instant', block: 'start'}));
}
"""
THEME_JS = """
() => {
  const dark = document.body.classList.toggle('dark');
  try { localStorage.setItem('rq-theme', dark ? 'dark' : 'light'); } catch (e) {}
}
"""
THEME_LOAD_JS = """
() => {
  let theme = null;
  try { theme = localStorage.getItem('rq-theme'); } catch (e) {}
  if (theme) document.body.classList.toggle('dark', theme === 'dark');
}
"""

CSS = """
.gradio-container { max-width: 1360px !important; margin: 0 auto !important; }
/* the page never widens: long names wrap, columns may shrink */
@media (min-width: 801px) { #rq-main, #rq-side-col { min-width: 0 !important; } }
#rq-ask-row, #rq-picker-row { flex-wrap: nowrap !important; }
#rq-ask-row > *, #rq-picker-row > * { min-width: 0 !important; }
#rq-send, #rq-clear { flex: 0 0 auto !important; }
.rq-msg, .rq-panel { overflow-wrap: anywhere; }
#rq-top { align-items: flex-start; }
#rq-theme { align-self: flex-start; }
#rq-clear { align-self: center; }
#rq-hint { min-height: 0 !important; padding: 0 !important; }
/* one clear control: "New chat" (the chat's own trash button is hidden) */
#rq-chat button[aria-label="Clear"], #rq-chat button[title="Clear"] { display: none !important; }
#rq-question textarea { font-size: 1rem; min-height: 44px; }
#rq-question textarea::placeholder { opacity: 1; color: var(--body-text-color-subdued); }
.rq-hint { font-size: 0.9rem; color: var(--body-text-color-subdued); padding: 2px 4px; }
.rq-hint.rq-error { color: #b91c1c; }
.rq-status-line { margin: 8px 0 4px; font-size: 0.88rem; }
.rq-supported { color: var(--body-text-color); }
.rq-unsure { color: #b45309; }
.rq-found { font-size: 0.85rem; }
.rq-found i.rq-src, .rq-bad i.rq-src { font-size: 0.85rem; color: inherit; }
.rq-doc .rq-title { font-weight: 600; font-style: normal; color: var(--body-text-color); margin: 0 0.3em 0 0; }
.rq-doc .rq-src, .rq-cite-head .rq-src { font-weight: 400; font-size: 0.78rem; color: var(--body-text-color-subdued); }
.rq-details { font-size: 0.8rem; margin-top: 4px; }
.rq-exports { font-size: 0.9rem; }
.rq-download { margin-left: 8px; color: var(--color-accent); }
.rq-details summary { cursor: pointer; color: var(--body-text-color-subdued); }
@media (max-width: 800px) {
  .gradio-container { padding: 0 6px !important; }
  #rq-ask { flex-direction: column !important; flex-wrap: nowrap !important; }
  #rq-main, #rq-side-col { flex: 1 1 auto !important; width: 100% !important; min-width: 0 !important; }
  #rq-chat { height: 70vh !important; }
  #rq-side { min-height: 0 !important; }
  .rq-header h1 { font-size: 1.3rem; }
  .rq-header p { display: none; }
}

.rq-header { padding: 6px 2px 2px; }
.rq-header h1 { font-size: 1.6rem; font-weight: 700; margin: 0 0 4px; letter-spacing: -0.01em; }
.rq-header p { margin: 0; color: var(--body-text-color-subdued); font-size: 0.95rem; max-width: 980px; }

.rq-placeholder { text-align: center; color: var(--body-text-color-subdued); line-height: 1.6; }

/* chat messages */
.rq-msg { line-height: 1.55; }
.rq-answer { white-space: normal; }
.rq-ref { color: var(--color-accent); font-weight: 600; margin-left: 1px; }
.rq-query { font-size: 0.85rem; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.rq-pending { color: var(--body-text-color-subdued); font-style: italic; }
.rq-draft { color: var(--body-text-color-subdued); border-left: 3px dashed #d97706; padding-left: 10px; }
.rq-draft-label { font-size: 0.78rem; font-weight: 600; color: #b45309; text-transform: uppercase;
  letter-spacing: 0.04em; margin-bottom: 4px; }
.rq-cursor { animation: rq-blink 1s steps(2, start) infinite; color: var(--color-accent); }
@keyframes rq-blink { to { visibility: hidden; } }

.rq-cites { margin-top: 10px; border-top: 1px solid var(--border-color-primary); padding-top: 8px; }
.rq-cites-title, .rq-near-title { font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.04em;
  color: var(--body-text-color-subdued); margin-bottom: 6px; font-weight: 600; }
.rq-cite { margin: 0 0 8px; padding: 8px 10px; border-radius: 8px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
.rq-cite-head { font-size: 0.85rem; margin-bottom: 4px; display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; }
.rq-marker, .rq-rank { font-weight: 700; color: var(--color-accent); }
.rq-src { font-weight: 600; overflow-wrap: anywhere; }
.rq-title { color: var(--body-text-color); font-weight: 600; }
.rq-meta { color: var(--body-text-color-subdued); font-size: 0.82rem; }
.rq-ctx { font-size: 0.9rem; color: var(--body-text-color-subdued); }
.rq-ctx mark, .rq-doc-text mark { background: #fde68a; color: #1f2937; padding: 1px 0; border-radius: 2px; }
.rq-ok { color: #15803d; font-weight: 600; font-size: 0.8rem; }
.rq-bad { color: #b91c1c; font-weight: 600; font-size: 0.85rem; }
.rq-open { margin-left: auto; color: var(--color-accent); cursor: pointer; font-size: 0.82rem; white-space: nowrap; }
.rq-open { text-decoration: none; }
.rq-open:hover, .rq-open:focus { text-decoration: underline; }
a.rq-quote { color: inherit; text-decoration: none; }
a.rq-quote:hover mark { background: #fcd34d; }
.rq-issue { margin-top: 6px; font-size: 0.85rem; color: #b45309; }
.rq-withheld { margin-top: 8px; font-size: 0.85rem; color: #b91c1c; }
.rq-short { font-size: 1.15rem; font-weight: 700; margin-bottom: 4px; }
.rq-conflict { margin: 4px 0; font-size: 0.9rem; color: #b45309; font-weight: 600; }
.rq-unmentioned { margin: 4px 0; font-size: 0.9rem; color: #b45309; }
.rq-withheld summary { cursor: pointer; font-weight: 600; }
.rq-withheld-text { text-decoration: line-through; color: #6b7280; }
.rq-withheld-why { display: block; color: #b91c1c; }
.rq-error { color: #b91c1c; }

.rq-abstain { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.08); padding: 8px 12px; border-radius: 6px; }
.rq-abstain-title { font-weight: 700; color: #b45309; font-size: 1rem; margin-bottom: 2px; }
.rq-abstain-why { margin: 2px 0 6px; font-size: 0.9rem; color: #374151; }
.rq-abstain-text { margin-bottom: 8px; }

/* side panels */
#rq-side { min-height: 620px; }
.rq-panel { max-height: 600px; overflow-y: auto; padding-right: 4px; }
#rq-viewer.rq-panel { overflow: visible; max-height: none; }
.rq-panel-note { font-size: 0.85rem; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.rq-passage { padding: 8px 10px; margin-bottom: 8px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.rq-passage-head { display: flex; gap: 6px; align-items: baseline; font-size: 0.88rem; }
.rq-passage .rq-meta { margin: 1px 0 4px; }
.rq-passage-text { font-size: 0.88rem; line-height: 1.5; }
.rq-empty { color: var(--body-text-color-subdued); padding: 24px 8px; text-align: center; }

.rq-doc-head { display: flex; flex-direction: column; gap: 2px; margin-bottom: 8px; }
.rq-doc-text { position: relative; white-space: pre-wrap; font-size: 0.9rem; line-height: 1.6; max-height: 500px;
  overflow-y: auto; padding: 10px 12px; border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-secondary); }
.rq-doc-text mark.rq-target { background: #fcd34d; box-shadow: 0 0 0 1px #f59e0b; }
.rq-doc-head .rq-meta { word-break: break-all; }
.rq-page { margin-bottom: 10px; }
.rq-page-head { margin-bottom: 4px; }
.rq-page-scroll { max-height: 520px; overflow-y: auto; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.rq-page-frame { position: relative; line-height: 0; }
.rq-page-img { display: block; width: 100%; height: auto; background: #fff; }
.rq-hl { position: absolute; background: rgba(253, 224, 71, 0.45); outline: 1px solid #f59e0b;
  mix-blend-mode: multiply; pointer-events: none; }
.rq-page-note { font-size: 0.85rem; color: #b45309; margin-bottom: 8px; }

/* documents tab */
.rq-status { padding: 8px 12px; border-radius: 8px; font-size: 0.92rem; }
.rq-status ul { margin: 0 0 4px; padding-left: 4px; list-style: none; }
.rq-ok-box { background: rgba(21, 128, 61, 0.08); border: 1px solid rgba(21, 128, 61, 0.35); }
.rq-warn { background: rgba(185, 28, 28, 0.06); border: 1px solid rgba(185, 28, 28, 0.35); }
#rq-remove { align-self: end; }
"""
