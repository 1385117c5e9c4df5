// Dispatch's own script for its pages (no inline scripts: the Content-Security-Policy forbids them).
// - The login form carries the browser's time zone: the agent's "today" is their own day.
// - A form sent back with errors puts the focus on the first field to fix.
// - Keyboard shortcuts: an element with data-key="x" is chosen (a radio) or pressed (a button)
//   when x is typed outside a text field; Enter saves the form the focus is in (its [data-enter]
//   button), Shift+Enter presses its [data-shift-enter] button ("save and next").
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (err) {
      zone = "";
    }
    document.querySelectorAll("[data-browser-time-zone]").forEach(function (field) {
      field.value = zone;
    });
    // A form sent back with errors: the first field to fix gets the focus (and is scrolled to).
    var invalid = document.querySelector(".invalid input:not([type=hidden]), .invalid select, .invalid textarea");
    if (invalid) invalid.focus();
    // A field shown only for one choice of a radio group (data-shown-for="outcome=not_completed"):
    // the close form asks why only when the job was not completed.
    document.querySelectorAll("[data-shown-for]").forEach(function (field) {
      var rule = field.getAttribute("data-shown-for").split("=");
      var form = field.closest("form");
      function follow() {
        var chosen = form.querySelector("input[name='" + rule[0] + "']:checked");
        var wanted = !chosen || chosen.value === rule[1];
        field.hidden = !wanted;
        field.querySelectorAll("select, input, textarea").forEach(function (el) {
          el.disabled = !wanted;
        });
      }
      form.querySelectorAll("input[name='" + rule[0] + "']").forEach(function (radio) {
        radio.addEventListener("change", follow);
      });
      follow();
    });
  });

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !/^(radio|checkbox|button|submit|reset)$/.test(el.type);
  }

  function shown(el) {
    return !el.disabled && el.getClientRects().length > 0;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    var target = event.target;
    if (event.key === "Enter") {
      var form = target.closest ? target.closest("form[data-enter-form]") : null;
      if (!form || /^(BUTTON|TEXTAREA|A|SUMMARY)$/.test(target.tagName)) return;
      var button = form.querySelector(event.shiftKey ? "[data-shift-enter]" : "[data-enter]");
      if (button) {
        event.preventDefault();
        form.requestSubmit(button);
      }
      return;
    }
    if (typing(target) || event.key.length !== 1) return;
    var key = event.key.toLowerCase();
    var found = Array.prototype.filter.call(document.querySelectorAll("[data-key]"), function (el) {
      return el.dataset.key === key && shown(el);
    })[0];
    if (!found) return;
    event.preventDefault();
    if (found.type === "radio") {
      found.checked = true;
      found.focus();
      if (found.dataset.focus) {
        var next = document.getElementById(found.dataset.focus);
        if (next) next.focus();
      }
    } else {
      found.click();
    }
  });
})();
