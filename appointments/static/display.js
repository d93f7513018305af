/* The call display: live by Server-Sent Events, speaks each new call. ES5 only (old TV browsers). */
(function () {
  "use strict";
  var body = document.body;
  var spoken = window.SPOKEN = [];  // what was announced, in order (tests read it)
  var lastVersion = null;

  function byId(id) { return document.getElementById(id); }
  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  function render(snapshot) {
    var rows = [], i;
    for (i = 0; i < snapshot.windows.length; i++) {
      var w = snapshot.windows[i];
      rows.push("<tr><td class=\"window\">" + escapeHtml(w.name) + "</td><td class=\"number\">" + escapeHtml(w.calling || "—") + "</td></tr>");
    }
    byId("windows").innerHTML = rows.join("");
    var recent = [];
    for (i = 0; i < snapshot.recent_calls.length; i++) {
      var call = snapshot.recent_calls[i];
      recent.push("<li><b>" + escapeHtml(call.ticket_no) + "</b> " + escapeHtml(call.window) + (call.kind === "recalled" ? "（重呼）" : "") + "</li>");
    }
    byId("recent").innerHTML = recent.join("");
    var waiting = [];
    for (i = 0; i < snapshot.waiting.length; i++) {
      waiting.push("<li><span>" + escapeHtml(snapshot.waiting[i].item_name) + "</span><b>" + snapshot.waiting[i].count + "</b></li>");
    }
    byId("waiting").innerHTML = waiting.join("");
    byId("waiting-total").innerHTML = String(snapshot.waiting_total);
    lastVersion = snapshot.version;
  }

  function speak(text) {
    spoken.push(text);
    if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) { return; }
    var utterance = new window.SpeechSynthesisUtterance(text);
    utterance.lang = "zh-CN";
    utterance.rate = 0.9;
    window.speechSynthesis.speak(utterance);
    window.speechSynthesis.speak(new window.SpeechSynthesisUtterance(text));  // said twice, as halls do
  }

  function announce(call) {
    var box = byId("announcement");
    box.innerHTML = escapeHtml(call.text);
    box.setAttribute("data-call-id", call.id);
    box.className = "announcement";
    setTimeout(function () { box.className = "announcement flash"; }, 20);
    speak(call.text);
  }

  function handle(payload) {
    render(payload.snapshot);
    for (var i = 0; i < payload.announce.length; i++) { announce(payload.announce[i]); }
  }

  function status(text, live) {
    var el = byId("status");
    el.innerHTML = text;
    el.className = live ? "status live" : "status";
  }

  function tick() {
    var now = new Date();
    function two(n) { return n < 10 ? "0" + n : String(n); }
    byId("clock").innerHTML = two(now.getHours()) + ":" + two(now.getMinutes());
  }

  function pollFallback() {
    // No EventSource (very old browsers): ask every 10 s — no announcements, but the board stays right.
    var request = new XMLHttpRequest();
    request.open("GET", body.getAttribute("data-fallback"));
    request.onload = function () {
      if (request.status === 200) { render(JSON.parse(request.responseText)); status("已连接", true); }
    };
    request.send();
  }

  function listen() {
    var source = new window.EventSource(body.getAttribute("data-events"));
    source.addEventListener("display", function (event) { handle(JSON.parse(event.data)); status("实时", true); });
    source.onerror = function () { status("重新连接中", false); };  // EventSource reconnects with Last-Event-ID
  }

  document.onclick = function () {
    byId("sound-hint").className = "hint off";
    if (window.speechSynthesis && window.SpeechSynthesisUtterance) {
      window.speechSynthesis.speak(new window.SpeechSynthesisUtterance("语音播报已开启"));
    }
  };

  render(window.DISPLAY_SNAPSHOT);
  tick();
  setInterval(tick, 10000);
  if (window.EventSource) { listen(); } else { pollFallback(); setInterval(pollFallback, 10000); }
})();
