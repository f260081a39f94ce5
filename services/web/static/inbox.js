// Live inbox: new notifications and every change arrive over Server-Sent Events as rendered rows;
// a changed row is replaced where it stands, and deadlines count down.
(function () {
  "use strict";

  function span(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) { return days + " d " + hours + " h"; }
    if (hours) { return hours + " h " + mins + " min"; }
    return mins + " min";
  }

  function tick() {
    document.querySelectorAll("time[data-deadline]").forEach(function (element) {
      var seconds = (Date.parse(element.dataset.deadline) - Date.now()) / 1000;
      element.textContent = seconds >= 0 ? "due in " + span(seconds) : "overdue by " + span(seconds);
    });
  }

  function count(status, change) {
    [status, "all"].forEach(function (name) {
      var element = document.querySelector("[data-count-status='" + name + "']");
      if (element) { element.textContent = String(Math.max(0, parseInt(element.textContent, 10) + change)); }
    });
  }

  function rowOf(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.querySelector("tr");
  }

  var rows = document.getElementById("inbox-rows");
  var stream = rows && rows.dataset.liveStream;
  if (stream && window.EventSource) {
    var status = document.getElementById("live-status");
    var announcer = document.getElementById("announcer");
    var source = new EventSource(stream);
    source.addEventListener("open", function () {
      document.body.dataset.live = "connected";
      status.textContent = "Live: new notifications and changes appear here as they happen.";
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up when the answer is not a stream, e.g. a sign-in page.
        document.body.dataset.live = "stopped";
        status.textContent = "Live updates stopped (your session may have expired): reload the page.";
        return;
      }
      document.body.dataset.live = "reconnecting";
      status.textContent = "Live updates interrupted; reconnecting…";
    });
    source.addEventListener("notification", function (event) {
      var row = rowOf(event.data);
      if (!row) { return; }
      row.classList.add("is-new");
      var existing = document.getElementById(row.id);
      if (existing) {
        existing.replaceWith(row);
      } else {
        rows.prepend(row);
        count(row.dataset.status, 1);
      }
      var empty = document.getElementById("inbox-empty");
      if (empty) { empty.hidden = true; }
      var link = row.querySelector("a");
      announcer.textContent = "New notification: " + (link ? link.textContent : "");
      tick();
    });
    source.addEventListener("change", function (event) {
      var row = rowOf(event.data);
      if (!row) { return; }
      var existing = document.getElementById(row.id);
      if (!existing && row.dataset.matches !== "true") { return; }
      row.classList.add("is-changed");
      if (existing) {
        if (existing.dataset.status !== row.dataset.status) {
          count(existing.dataset.status, -1);
          count(row.dataset.status, 1);
        }
        existing.replaceWith(row);
      } else {
        rows.prepend(row);
        count(row.dataset.status, 1);
      }
      var link = row.querySelector("a");
      var state = row.querySelector("[data-label='Status']");
      announcer.textContent = "Changed: " + (link ? link.textContent : "") + ", now " + (state ? state.textContent : "");
      tick();
    });
  }
  tick();
  window.setInterval(tick, 30000);
})();
