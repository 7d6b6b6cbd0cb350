/* The example app's storefront badge (bcapp/web/example.py): the storefront says who the
   shopper is (a signed JWT, 404 for a guest); the app verifies it and greets them. */
(function () {
  var app = {{ app_url|tojson }}, client = {{ client_id|tojson }};
  fetch("/customer/current.jwt?app_client_id=" + encodeURIComponent(client),
        {credentials: "same-origin"})
    .then(function (answer) { return answer.ok ? answer.text() : null; })
    .then(function (token) {
      if (!token) { return null; }
      return fetch(app + "/storefront/badge",
                   {method: "POST", headers: {"Authorization": "Bearer " + token}})
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (body) {
          if (!body) { return; }
          var badge = document.createElement("div");
          badge.id = "bcapp-badge";
          badge.textContent = body.greeting;
          document.body.appendChild(badge);
        });
    })
    .catch(function () { /* the storefront works without the badge */ });
})();
