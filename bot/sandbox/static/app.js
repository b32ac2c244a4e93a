// The sandbox client: polls /sandbox/state, draws it, and posts what the user does.
// The server signs and forwards everything to the bot (bot/sandbox/page.py).
"use strict";

const { el, mrkdwn, blocks, textObject, formValues } = window.BlockKit;
const $ = (id) => document.getElementById(id);
const REQUIRED = "Please complete this required field.";

const ui = {
  // ?user=U3 picks the user (for links and screenshots); otherwise the last one chosen here.
  user: new URLSearchParams(location.search).get("user") || localStorage.getItem("sandbox-user") || "",
  channel: localStorage.getItem("sandbox-channel") || "",
  tab: "channel", // or "home"
  drawn: "",      // the last state drawn, as JSON: redraw only on change, keeping scroll and focus
  modalKey: "",   // id + hash of the modal on screen: a redraw would wipe what the user typed
  thread: "",     // ts of the message whose thread is open beside the channel
  state: null,
};

// What each user has read, per channel (the latest ts seen), kept across reloads as Slack does.
const read = JSON.parse(localStorage.getItem("sandbox-read") || "{}");
function lastRead(channel) { return (read[ui.user] || {})[channel] || "0"; }
function markRead(channel) {
  const c = ui.state && ui.state.channels.find((x) => x.id === channel);
  const latest = c && c.recent.length ? c.recent[c.recent.length - 1] : "0";
  if (Number(latest) <= Number(lastRead(channel))) return;
  (read[ui.user] = read[ui.user] || {})[channel] = latest;
  localStorage.setItem("sandbox-read", JSON.stringify(read));
}
function unread(c) { return c.recent.filter((ts) => Number(ts) > Number(lastRead(c.id))).length; }

async function call(path, body) {
  const options = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const resp = await fetch(path, options);
  return resp.json();
}

async function refresh() {
  const query = new URLSearchParams({ user: ui.user, channel: ui.channel });
  try {
    const state = await call("/sandbox/state?" + query);
    ui.user = state.user;
    ui.channel = state.channel;
    const me = state.users.find((u) => u.id === state.user);
    $("clock").textContent = me ? "Your time: " + formatTime(Date.now() / 1000, me.tz, true) : "";
    const json = JSON.stringify([state, ui.tab, ui.thread]);
    if (json !== ui.drawn) { ui.drawn = json; ui.state = state; draw(state); }
  } catch (err) {
    toast("The sandbox is not answering (is `readybot demo` still running?)");
  }
}

function poll() { refresh().finally(() => setTimeout(poll, 1000)); }

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

// Names for mentions and authors, and the context Block Kit rendering needs for clicks.
function context(state, extra) {
  const users = Object.fromEntries(state.users.map((u) => [u.id, u]));
  return {
    userName: (id) => (users[id] ? users[id].name : id),
    tz: (users[state.user] || { tz: "UTC" }).tz,
    channelName: (id) => (state.channels.find((c) => c.id === id) || { name: id }).name,
    onAction: (element, blockId) => click(element, blockId, extra || {}),
    users,
  };
}

async function click(element, blockId, where) {
  const answer = await call("/sandbox/action", {
    user: ui.user, channel: ui.channel, action_id: element.action_id, value: element.value,
    block_id: blockId, ...where,
  });
  if (answer.status === 404) toast(`readybot has no handler for "${element.action_id}" (HTTP 404)`);
  else if (!answer.ok) toast(`The click failed: ${answer.error || "HTTP " + answer.status}`);
  refresh();
}

function draw(state) {
  const me = state.users.find((u) => u.id === state.user) || { tz: "UTC", name: "?" };
  $("user-switcher").replaceChildren(...state.users.filter((u) => !u.is_bot).map((u) =>
    el("option", { value: u.id, selected: u.id === state.user ? "" : null }, `${u.real_name} (${u.tz})`)));
  const open = (c) => c.id === state.channel && ui.tab === "channel";
  if (ui.tab === "channel") markRead(state.channel);  // what is on screen has been read
  // Slack marks an unread channel bold, and a DM with unread messages also with their count.
  const item = (c) => {
    const count = open(c) ? 0 : unread(c);
    return el("button", {
      class: "nav-item" + (open(c) ? " active" : "") + (count ? " unread" : ""),
      onclick: () => selectChannel(c.id), "data-unread": count || null,
    }, el("span", {}, c.is_im ? c.name : "# " + c.name),
    count && c.is_im ? el("span", { class: "count", "aria-label": `${count} unread` }, count > 98 ? "99+" : count) : null);
  };
  $("channel-list").replaceChildren(...state.channels.filter((c) => !c.is_im).map(item));
  $("dm-list").replaceChildren(...state.channels.filter((c) => c.is_im).map(item));
  $("home-link").classList.toggle("active", ui.tab === "home");
  $("composer").hidden = ui.tab === "home";
  $("banner").hidden = !state.banner;
  $("banner").textContent = state.banner || "";
  if (ui.tab === "home") drawHome(state);
  else drawChannel(state, me);
  drawThread(state, me);
  drawModal(state);
}

function drawHome(state) {
  $("title").textContent = "readybot · Home";
  const ctx = context(state, { view_id: state.home && state.home.id });
  $("feed").replaceChildren(state.home ? el("div", { class: "home" }, blocks(state.home.blocks, ctx)) :
    el("p", { class: "empty" }, "readybot has not published a Home tab for you yet."));
}

function drawChannel(state, me) {
  const channel = state.channels.find((c) => c.id === state.channel);
  $("title").textContent = channel.is_im ? channel.name : "# " + channel.name;
  $("message").placeholder = `Message ${channel.is_im ? channel.name : "#" + channel.name} (try /ready help)`;
  const feed = $("feed");
  const atBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40;
  // Messages and this user's ephemerals in one timeline.
  const all = timeline(state);
  // Replies stay in their thread, as in Slack: the channel shows "N replies", a click opens it beside.
  const rows = all.filter((m) => !isReply(m)).map((m) => {
    const replies = repliesTo(all, m.ts);
    return el("div", { class: "thread" + (m.ts === ui.thread ? " open" : "") }, message(m, state, me),
      replies.length ? el("button", { class: "reply-count", type: "button", onclick: () => openThread(m.ts) },
        `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`) : null);
  });
  feed.replaceChildren(...(rows.length ? rows : [el("p", { class: "empty" }, "No messages yet. Try /ready help below.")]));
  if (atBottom || !ui.scrolled) { feed.scrollTop = feed.scrollHeight; ui.scrolled = true; }
}

const isReply = (m) => m.thread_ts && m.thread_ts !== m.ts;
const repliesTo = (all, ts) => all.filter((r) => isReply(r) && r.thread_ts === ts);

function timeline(state) {
  return [...state.messages, ...state.ephemerals.map((e) => ({ ...e, ephemeral: true }))]
    .sort((a, b) => Number(a.ts) - Number(b.ts));
}

function openThread(ts) { ui.thread = ts; ui.drawn = ""; refresh(); }

function drawThread(state, me) {
  const all = timeline(state);
  const parent = ui.tab === "channel" && all.find((m) => m.ts === ui.thread);
  $("thread-pane").hidden = !parent;
  if (!parent) { ui.thread = ""; return; }
  const channel = state.channels.find((c) => c.id === state.channel);
  $("thread-channel").textContent = channel.is_im ? channel.name : "# " + channel.name;
  const replies = repliesTo(all, parent.ts);
  $("thread-feed").replaceChildren(message(parent, state, me),
    el("div", { class: "thread-divider muted" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`),
    ...replies.map((r) => message(r, state, me)));
}

function message(m, state, me) {
  const ctx = context(state, { channel: state.channel, message_ts: m.ts });
  if (m.sandbox === "command") return el("div", { class: "note" }, "You used ", el("code", {}, m.text));
  // An ephemeral's `user` is who sees it; its author is the bot (or Slack, for sandbox notes).
  const from = m.ephemeral ? state.bot : m.user || state.bot;
  const author = m.sandbox ? "Slackbot" : ctx.userName(from);
  const isBot = from === state.bot || Boolean(m.bot_id);
  return el("div", { class: "message" + (m.ephemeral ? " ephemeral" : "") },
    el("div", { class: "avatar" + (isBot ? " bot" : "") }, author.slice(0, 1).toUpperCase()),
    el("div", { class: "body" },
      el("div", { class: "meta" }, el("b", {}, author), isBot && !m.sandbox ? el("span", { class: "badge" }, "APP") : null,
        el("span", { class: "muted" }, formatTime(m.ts, me.tz)), m.edited ? el("span", { class: "muted" }, "(edited)") : null),
      m.blocks && m.blocks.length ? blocks(m.blocks, ctx) : mrkdwn(m.text, ctx),
      (m.files || []).map((f) => file(f)),
      m.reactions ? el("div", { class: "reactions" }, m.reactions.map((r) =>
        el("span", { class: "reaction" }, window.BlockKit.emojify(`:${r.name}:`), " ", r.count))) : null,
      m.ephemeral ? el("div", { class: "muted small" }, "Only visible to you") : null));
}

function file(f) {
  const href = "/sandbox/files/" + encodeURIComponent(f.id);
  const image = /\.(png|jpe?g|gif|webp)$/i.test(f.name || "");
  return el("div", { class: "file" }, image ? el("img", { src: href, alt: f.title || f.name }) : null,
    el("a", { href, target: "_blank", rel: "noopener" }, "📎 " + (f.title || f.name)));
}

function formatTime(ts, tz, withZone) {
  const options = { hour: "2-digit", minute: "2-digit", timeZone: tz, timeZoneName: withZone ? "short" : undefined };
  return new Intl.DateTimeFormat([], options).format(new Date(Number(ts) * 1000));
}

function drawModal(state) {
  const view = state.modal;
  const key = view ? view.id + view.hash : "";
  if (key === ui.modalKey) return;
  ui.modalKey = key;
  if (!view) { $("modal-root").replaceChildren(); return; }
  const ctx = context(state, { view_id: view.id });
  const close = () => call("/sandbox/close", { view_id: view.id }).then(refresh);
  const form = el("form", { class: "modal" },
    el("h2", {}, textObject(view.title, ctx)),
    el("div", { class: "modal-body" }, blocks(view.blocks, ctx)),
    el("div", { class: "modal-buttons" },
      el("button", { type: "button", class: "btn", onclick: close }, view.close ? view.close.text : "Cancel"),
      view.submit ? el("button", { type: "submit", class: "btn primary" }, view.submit.text) : null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Slack checks required inputs itself: an empty one blocks the submit, the app never hears of it.
    form.querySelectorAll("[data-error-for]").forEach((e) => { e.textContent = ""; });
    const missing = [...form.querySelectorAll("[data-required]")].filter((c) => !c.value.trim());
    for (const c of missing) form.querySelector(`[data-error-for="${CSS.escape(c.dataset.block)}"]`).textContent = REQUIRED;
    if (missing.length) { missing[0].focus(); return; }
    const answer = await call("/sandbox/submit", { user: ui.user, view_id: view.id, values: formValues(form) });
    form.querySelectorAll("[data-error-for]").forEach((e) => { e.textContent = ""; });
    for (const [blockId, text] of Object.entries(answer.errors || {})) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(blockId)}"]`);
      if (slot) slot.textContent = text; else toast(text);
    }
    if (!answer.ok) toast(`Submit failed: ${answer.error || "HTTP " + answer.status}`);
    refresh();
  });
  $("modal-root").replaceChildren(el("div", { class: "overlay" }, form));
}

function selectChannel(id) {
  ui.tab = "channel";
  if (id !== ui.channel) ui.thread = "";
  ui.channel = id;
  ui.scrolled = false;
  localStorage.setItem("sandbox-channel", id);
  refresh();
}

async function send(text) {
  if (!text.trim()) return;
  const answer = await call("/sandbox/command", { user: ui.user, channel: ui.channel, text });
  if (answer.error === "unreachable") toast("readybot did not answer; see the terminal running the demo.");
  ui.scrolled = false;
  refresh();
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const box = $("message");
  send(box.value);
  box.value = "";
});
document.querySelectorAll(".chip").forEach((chip) => chip.addEventListener("click", () => {
  $("message").value = chip.textContent;
  $("message").focus();
}));
$("user-switcher").addEventListener("change", (event) => {
  ui.user = event.target.value;
  localStorage.setItem("sandbox-user", ui.user);
  ui.modalKey = "";
  if (ui.tab === "home") call("/sandbox/home", { user: ui.user });
  refresh();
});
async function openHome() {
  if (!ui.user) await refresh(); // the server picks the first user on a first visit
  ui.tab = "home";
  await call("/sandbox/home", { user: ui.user }); // app_home_opened, so the bot can publish the tab
  refresh();
}
$("home-link").addEventListener("click", openHome);
$("thread-close").addEventListener("click", () => { ui.thread = ""; ui.drawn = ""; refresh(); });

// /#home opens on the Home tab (handy for links and screenshots).
if (location.hash === "#home") openHome().then(poll); else poll();
