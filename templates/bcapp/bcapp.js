/* bcapp's sessions without cookies (bcapp/web/bearer.py): the page's bearer token goes on the
   page's own fetch calls to this app, is renewed while the session lives, and the session ends
   when BigCommerce's SDK reports a logout. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="bcapp-token"]');
  if (!meta || !meta.content) { return; }
  var token = meta.content, path = {{ token_path|tojson }}, lifetime = {{ lifetime|tojson }};
  var send = window.fetch.bind(window);

  function ours(url) {
    try { return new URL(url, window.location.href).origin === window.location.origin; }
    catch (error) { return false; }
  }

  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : input.url;
    if (!ours(url)) { return send(input, init); }
    var options = Object.assign({}, init || {});
    var headers = new Headers(options.headers || (typeof input === "string" ? {} : input.headers));
    if (!headers.has("Authorization")) { headers.set("Authorization", "Bearer " + token); }
    options.headers = headers;
    return send(input, options);
  };

  function renewIn(seconds) {
    window.setTimeout(function () {
      send(path, {method: "POST", headers: {"Authorization": "Bearer " + token}})
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (body) {
          if (!body) { return; }  /* the session is over: calls now answer 401 */
          token = body.token;
          meta.content = token;
          renewIn(body.expires_in);
        });
    }, Math.max(seconds - 60, 5) * 1000);
  }
  renewIn(lifetime);

  function endSession() {
    return send(path + "/end", {method: "POST", headers: {"Authorization": "Bearer " + token}});
  }
  window.bcapp = {token: function () { return token; }, endSession: endSession};
  if (window.Bigcommerce && typeof window.Bigcommerce.init === "function") {
    window.Bigcommerce.init({onLogout: endSession});
  }
})();
