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
