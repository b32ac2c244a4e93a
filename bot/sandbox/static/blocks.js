// Block Kit and mrkdwn rendered to DOM nodes. Every string from the bot becomes a text node
// (never innerHTML), and only http(s) and sandbox links are kept, so bot output cannot run script.
"use strict";

// One scope: only window.BlockKit is global, so app.js can name things freely.
(() => {
  const EMOJI = {
    white_check_mark: "✅", x: "❌", warning: "⚠️", link: "🔗", construction: "🚧", hourglass: "⏳",
    hourglass_flowing_sand: "⏳", arrow_forward: "▶️", octagonal_sign: "🛑", see_no_evil: "🙈",
    grey_question: "❔", eyes: "👀", double_vertical_bar: "⏸️", tada: "🎉", rocket: "🚀", bell: "🔔",
    calendar: "📅", chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", memo: "📝",
    dart: "🎯", zzz: "💤", fire: "🔥", stopwatch: "⏱️", clipboard: "📋", mag: "🔍", sunny: "☀️",
    information_source: "ℹ️", large_green_circle: "🟢", red_circle: "🔴", large_yellow_circle: "🟡",
    wave: "👋", thumbsup: "👍", "+1": "👍", heavy_check_mark: "✔️", robot_face: "🤖",
    alarm_clock: "⏰", bar_chart: "📊", fast_forward: "⏩", muscle: "💪", no_bell: "🔕", palm_tree: "🌴",
    rotating_light: "🚨", speech_balloon: "💬", sunrise: "🌅", wastebasket: "🗑️",
  };

  // el("a", {href, class, onclick}, child, ...): children may be nodes, strings or arrays of them.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat(Infinity)) {
      if (child != null && child !== false) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function safeUrl(url) {
    const text = String(url || "").trim();
    return /^(https?:\/\/|mailto:|\/sandbox\/)/i.test(text) ? text : null;
  }

  // Slack escapes &, < and > in message text; the markup uses the real characters.
  function unescapeSlack(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(text) {
    return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
  }

  const INLINE = /`([^`\n]+)`|<([^<>\n]+)>|(?<!\w)\*([^*\n]+)\*(?!\w)|(?<!\w)_([^_\n]+)_(?!\w)|(?<!\w)~([^~\n]+)~(?!\w)/g;

  function inline(text, ctx) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      out.push(emojify(unescapeSlack(text.slice(last, m.index))));
      last = m.index + m[0].length;
      if (m[1] != null) out.push(el("code", {}, unescapeSlack(m[1])));
      else if (m[2] != null) out.push(special(m[2], ctx));
      else if (m[3] != null) out.push(el("b", {}, inline(m[3], ctx)));
      else if (m[4] != null) out.push(el("i", {}, inline(m[4], ctx)));
      else out.push(el("s", {}, inline(m[5], ctx)));
    }
    out.push(emojify(unescapeSlack(text.slice(last))));
    return out;
  }

  // <@U1>, <#C1|name>, <!here>, <url|label>, <url>
  function special(body, ctx) {
    const [target, label] = body.split("|", 2);
    if (target.startsWith("@")) return el("span", { class: "mention" }, "@" + ctx.userName(target.slice(1)));
    if (target.startsWith("#")) return el("span", { class: "mention" }, "#" + (label || ctx.channelName(target.slice(1))));
    if (target.startsWith("!date^")) return el("span", { class: "date" }, slackDate(target, label, ctx));
    if (target.startsWith("!")) return el("span", { class: "mention" }, "@" + (label || target.slice(1)));
    const href = safeUrl(unescapeSlack(target));
    const text = unescapeSlack(label || target);
    return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text) : text;
  }

  // <!date^1700000000^{date_short_pretty} {time}|fallback>, shown in the reader's zone as Slack does.
  function slackDate(target, label, ctx) {
    const [, ts, format] = target.split("^");
    const when = new Date(Number(ts) * 1000);
    if (!format || Number.isNaN(when.getTime())) return unescapeSlack(label || "");
    const tz = ctx.tz || "UTC";
    const fmt = (options) => new Intl.DateTimeFormat("en-US", { timeZone: tz, ...options }).format(when);
    const day = (d) => new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(d);  // YYYY-MM-DD
    const offset = (Date.parse(day(when)) - Date.parse(day(new Date()))) / 86400000;
    const relative = { "-1": "yesterday", 0: "today", 1: "tomorrow" }[offset];
    const tokens = {
      date_num: day(when),
      date: fmt({ month: "long", day: "numeric", year: "numeric" }),
      date_short: fmt({ month: "short", day: "numeric", year: "numeric" }),
      date_long: fmt({ weekday: "long", month: "long", day: "numeric", year: "numeric" }),
      time: fmt({ hour: "numeric", minute: "2-digit" }),
      time_secs: fmt({ hour: "numeric", minute: "2-digit", second: "2-digit" }),
    };
    tokens.date_pretty = relative || tokens.date;
    tokens.date_short_pretty = relative || fmt({ month: "short", day: "numeric" });
    tokens.date_long_pretty = relative || tokens.date_long;
    return format.replace(/\{(\w+)\}/g, (whole, name) => tokens[name] || whole);
  }

  // mrkdwn: ``` blocks, > quotes, then inline markup. Newlines are kept by CSS (pre-wrap).
  function mrkdwn(text, ctx) {
    const out = el("div", { class: "mrkdwn" });
    String(text || "").split("```").forEach((part, i) => {
      if (i % 2) { out.append(el("pre", {}, unescapeSlack(part.replace(/^\n/, "")))); return; }
      let quote = null;
      part.split("\n").forEach((line, j, lines) => {
        const m = line.match(/^(?:>|&gt;) ?(.*)$/);
        if (m) {
          if (!quote) out.append(quote = el("blockquote"));
          else quote.append("\n");
          quote.append(...inline(m[1], ctx));
          return;
        }
        quote = null;
        out.append(...inline(line, ctx));
        if (j < lines.length - 1) out.append("\n");
      });
    });
    return out;
  }

  function textObject(obj, ctx) {
    if (!obj) return "";
    return obj.type === "mrkdwn" ? mrkdwn(obj.text, ctx) : el("span", {}, emojify(String(obj.text || "")));
  }

  function imageUrl(obj) {
    if (obj.slack_file && obj.slack_file.id) return "/sandbox/files/" + encodeURIComponent(obj.slack_file.id);
    return safeUrl(obj.image_url);
  }

  // An interactive element; ctx.onAction(element, blockId) sends the click to the bot.
  function element(e, blockId, ctx) {
    if (e.type === "button") {
      return el("button", {
        type: "button", class: "btn " + (e.style || ""),
        onclick: () => {
          // Slack's confirm dialog: the click is sent only after its "confirm" button.
          // https://api.slack.com/reference/block-kit/composition-objects#confirm
          const c = e.confirm;
          if (c && !window.confirm(`${c.title.text}\n\n${c.text.text}`)) return;
          const href = safeUrl(e.url);
          if (href) window.open(href, "_blank", "noopener");
          ctx.onAction(e, blockId);
        },
      }, textObject(e.text, ctx));
    }
    if (e.type === "image") return el("img", { class: "thumb", src: imageUrl(e), alt: e.alt_text || "" });
    if (e.type === "mrkdwn" || e.type === "plain_text") return textObject(e, ctx);
    // Selects, overflow menus and pickers on messages are not simulated; say so instead of hiding them.
    return el("span", { class: "unsupported" }, `[${e.type}]`);
  }

  function block(b, ctx) {
    switch (b.type) {
      case "section":
        return el("div", { class: "block section" },
          el("div", { class: "section-body" },
            b.text ? textObject(b.text, ctx) : null,
            b.fields ? el("div", { class: "fields" }, b.fields.map((f) => textObject(f, ctx))) : null),
          b.accessory ? el("div", { class: "accessory" }, element(b.accessory, b.block_id, ctx)) : null);
      case "header":
        return el("h3", { class: "block header" }, emojify(String(b.text && b.text.text || "")));
      case "divider":
        return el("hr", { class: "block" });
      case "context":
        return el("div", { class: "block context" }, (b.elements || []).map((e) => element(e, b.block_id, ctx)));
      case "actions":
        return el("div", { class: "block actions" }, (b.elements || []).map((e) => element(e, b.block_id, ctx)));
      case "image":
        return el("figure", { class: "block image" },
          b.title ? el("figcaption", {}, textObject(b.title, ctx)) : null,
          el("img", { src: imageUrl(b), alt: b.alt_text || "" }));
      case "markdown":
        return el("div", { class: "block" }, mrkdwn(b.text, ctx));
      case "input":
        return input(b, ctx);
      default:
        return el("div", { class: "block unsupported" }, `[${b.type} block]`);
    }
  }

  function blocks(list, ctx) {
    return (list || []).map((b) => block(b, ctx));
  }

  // Modal inputs carry data-* so the form can rebuild view.state.values on submit.
  function input(b, ctx) {
    const e = b.element || {};
    const data = { "data-block": b.block_id || "", "data-action": e.action_id || "", "data-type": e.type,
      "data-required": b.optional ? null : "" };
    let control;
    if (e.type === "static_select" || e.type === "radio_buttons") {
      const initial = (e.initial_option || {}).value;
      control = el("select", data, el("option", { value: "" }, "Choose..."),
        (e.options || []).map((o) => el("option", { value: o.value, selected: o.value === initial ? "" : null },
          emojify(String(o.text.text)))));
    } else if (e.type === "plain_text_input" && e.multiline) {
      control = el("textarea", { ...data, rows: 3 }, e.initial_value || "");
    } else {
      const kinds = { datepicker: "date", timepicker: "time", number_input: "number", email_text_input: "email",
        url_text_input: "url", plain_text_input: "text" };
      if (!kinds[e.type]) return el("div", { class: "block unsupported" }, `[${e.type} input]`);
      control = el("input", { ...data, type: kinds[e.type], value: e.initial_value || e.initial_date || null,
        placeholder: e.placeholder ? e.placeholder.text : null });
    }
    return el("label", { class: "block input" },
      el("span", { class: "label" }, b.label ? b.label.text : "", b.optional ? el("span", { class: "muted" }, " (optional)") : null),
      control,
      b.hint ? el("span", { class: "muted" }, b.hint.text) : null,
      el("span", { class: "error", "data-error-for": b.block_id || "" }));
  }

  // view.state.values as Slack builds it: {block_id: {action_id: state}}.
  function formValues(form) {
    const values = {};
    for (const c of form.querySelectorAll("[data-block]")) {
      const raw = c.value === "" ? null : c.value;
      const type = c.dataset.type;
      let state = { type, value: raw };
      if (type === "static_select" || type === "radio_buttons") {
        const chosen = c.selectedOptions[0];
        state = { type, selected_option: raw == null ? null : { text: { type: "plain_text", text: chosen.textContent }, value: raw } };
      } else if (type === "datepicker") state = { type, selected_date: raw };
      else if (type === "timepicker") state = { type, selected_time: raw };
      (values[c.dataset.block] = values[c.dataset.block] || {})[c.dataset.action] = state;
    }
    return values;
  }

  window.BlockKit = { el, mrkdwn, blocks, textObject, formValues, emojify };
})();
