// Starts Swagger UI on /docs from data attributes (no inline script: the CSP forbids them).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var container = document.getElementById("swagger-ui-container");
  var config = { url: container.dataset.specUrl, dom_id: "#swagger-ui-container" };
  var extra = JSON.parse(container.dataset.config || "{}");
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });
  window.ui = window.SwaggerUIBundle(config);
});
