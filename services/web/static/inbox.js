// Live inbox: new notifications arrive over Server-Sent Events as rendered rows; deadlines count down.
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

  var rows = document.getElementById("inbox-rows");
  var stream = rows && rows.dataset.liveStream;
  if (stream && window.EventSource) {
    var status = document.getElementById("live-status");
    var announcer = document.getElementById("announcer");
    var source = new EventSource(stream);
    source.addEventListener("open", function () {
      document.body.dataset.live = "connected";
      status.textContent = "Live: new notifications appear here as they arrive.";
    });
    source.addEventListener("error", function () {
      document.body.dataset.live = "reconnecting";
      status.textContent = "Live updates interrupted; reconnecting…";
    });
    source.addEventListener("notification", function (event) {
      var template = document.createElement("template");
      template.innerHTML = event.data.trim();
      var row = template.content.querySelector("tr");
      if (!row) { return; }
      row.classList.add("is-new");
      var existing = document.getElementById(row.id);
      if (existing) { existing.replaceWith(row); } else { rows.prepend(row); }
      var empty = document.getElementById("inbox-empty");
      if (empty) { empty.hidden = true; }
      var link = row.querySelector("a");
      announcer.textContent = "New notification: " + (link ? link.textContent : "");
      tick();
    });
  }
  tick();
  window.setInterval(tick, 30000);
})();
