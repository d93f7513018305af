/* A clerk's window page: calls the staff JSON API with a bearer token. ES5 only, no framework. */
(function () {
  "use strict";
  var state = { token: null, staff: null, halls: [], hallId: null, windowId: null, current: null };

  function byId(id) { return document.getElementById(id); }
  function show(id, visible) { byId(id).className = visible ? "" : "hidden"; }
  function say(text, ok) { var el = byId("message"); el.innerHTML = ""; el.appendChild(document.createTextNode(text || "")); el.className = ok ? "message ok" : "message"; }

  function api(method, path, body, done) {
    var request = new XMLHttpRequest();
    request.open(method, path);
    request.setRequestHeader("Accept", "application/json");
    if (state.token) { request.setRequestHeader("Authorization", "Bearer " + state.token); }
    if (body) { request.setRequestHeader("Content-Type", "application/json"); }
    request.onload = function () {
      var data = null;
      try { data = JSON.parse(request.responseText); } catch (e) { data = null; }
      if (request.status === 401) { signOut(); }
      if (request.status >= 400) { say((data && (data.detail || data.title)) || ("请求失败 " + request.status)); return; }
      done(data);
    };
    request.onerror = function () { say("网络错误，请重试"); };
    request.send(body ? JSON.stringify(body) : null);
  }

  function option(value, text) { var o = document.createElement("option"); o.value = value; o.appendChild(document.createTextNode(text)); return o; }

  function fillWindows() {
    var select = byId("window"), hall = null, i;
    for (i = 0; i < state.halls.length; i++) { if (String(state.halls[i].id) === byId("hall").value) { hall = state.halls[i]; } }
    select.innerHTML = "";
    if (!hall) { return; }
    for (i = 0; i < hall.windows.length; i++) {
      var w = hall.windows[i];
      if (!w.active) { continue; }
      var o = option(w.id, w.name);
      if (w.staff && state.staff && w.staff.id === state.staff.id) { o.selected = true; }
      select.appendChild(o);
    }
  }

  function loadHalls() {
    api("GET", "/api/v1/staff/halls", null, function (data) {
      state.halls = data.items;
      var select = byId("hall");
      select.innerHTML = "";
      for (var i = 0; i < data.items.length; i++) { select.appendChild(option(data.items[i].id, data.items[i].name)); }
      fillWindows();
      show("sign-in-form", false); show("picker", true);
    });
  }

  function renderQueue(data) {
    state.current = data.current;
    byId("window-name").innerHTML = "";
    byId("window-name").appendChild(document.createTextNode(data.window.name));
    byId("current-number").innerHTML = data.current ? data.current.ticket_no : "—";
    byId("waiting-total").innerHTML = String(data.waiting_total);
    var list = byId("waiting-list");
    list.innerHTML = "";
    for (var i = 0; i < data.waiting.length; i++) {
      var li = document.createElement("li");
      li.appendChild(document.createTextNode(data.waiting[i].ticket_no + "  " + data.waiting[i].item_code + (data.waiting[i].priority ? "（优先）" : "")));
      if (data.waiting[i].priority) { li.className = "priority"; }
      list.appendChild(li);
    }
  }

  function base() { return "/api/v1/staff/halls/" + state.hallId; }
  function refresh() { if (state.windowId) { api("GET", base() + "/windows/" + state.windowId + "/queue", null, renderQueue); } }

  function onTicket(verb) {
    return function () {
      if (!state.current) { say("当前没有正在办理的号码"); return; }
      api("POST", base() + "/tickets/" + state.current.id + "/" + verb, {}, function () { say("已处理 " + state.current.ticket_no, true); refresh(); });
    };
  }

  function signOut() {
    state.token = null; state.windowId = null;
    try { window.sessionStorage.removeItem("window-console"); } catch (e) { /* private mode */ }
    show("desk", false); show("picker", false); show("sign-in-form", true);
  }

  byId("sign-in-form").onsubmit = function (event) {
    if (event && event.preventDefault) { event.preventDefault(); }
    api("POST", "/api/v1/staff/auth/tokens", { username: byId("username").value, password: byId("password").value }, function (data) {
      state.token = data.access_token; state.staff = data.staff;
      try { window.sessionStorage.setItem("window-console", JSON.stringify({ token: state.token, staff: state.staff })); } catch (e) { /* private mode */ }
      say("", true);
      loadHalls();
    });
    return false;
  };
  byId("hall").onchange = fillWindows;
  byId("open-window").onclick = function () {
    state.hallId = byId("hall").value; state.windowId = byId("window").value;
    if (!state.windowId) { say("请选择窗口"); return; }
    show("desk", true);
    refresh();
  };
  byId("sign-out").onclick = signOut;
  byId("call-next").onclick = function () {
    api("POST", base() + "/queue/next", { window_id: parseInt(state.windowId, 10) }, function (ticket) { say("已叫号 " + ticket.ticket_no, true); refresh(); });
  };
  byId("recall").onclick = onTicket("recall");
  byId("served").onclick = onTicket("served");
  byId("no-show").onclick = onTicket("no-show");
  setInterval(refresh, 5000);

  try {
    var saved = JSON.parse(window.sessionStorage.getItem("window-console") || "null");
    if (saved) { state.token = saved.token; state.staff = saved.staff; loadHalls(); }
  } catch (e) { /* nothing saved */ }
})();
