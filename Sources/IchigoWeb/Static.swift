/// The stylesheet and script every page loads. Served from memory: they are small and change only with releases.
enum StaticAssets {
    static let css = """
        :root { --red: #c8102e; --ink: #222; --line: #ccc; --soft: #fff5f6; }
        body { font-family: "IPAGothic", "IPAexGothic", "Noto Sans JP", sans-serif; color: var(--ink); margin: 0; background: #fafafa; }
        header.site { display: flex; justify-content: space-between; align-items: center; background: var(--red); color: #fff; padding: .6em 1.2em; }
        header.site a, header.site button { color: #fff; }
        header.site button { background: transparent; border: 1px solid #fff; }
        header.site nav { display: flex; gap: 1em; align-items: center; }
        .brand { font-weight: bold; font-size: 1.1em; }
        nav.global { background: #fff; border-bottom: 1px solid var(--line); padding: .5em 1.2em; display: flex; flex-wrap: wrap; gap: .4em 1.5em; }
        main { max-width: 860px; margin: 1em auto; background: #fff; padding: 1em 2em 2em; border: 1px solid var(--line); }
        main.wide { max-width: 1140px; }
        @media (max-width: 600px) { main { margin: .5em; padding: .5em 1em 1em; } header.site { flex-wrap: wrap; gap: .3em; } }
        .screen-id { color: #666; font-size: .85em; margin: 0; text-align: right; }
        h1 { font-size: 1.35em; border-left: 6px solid var(--red); padding-left: .5em; }
        h2 { font-size: 1.05em; background: var(--soft); padding: .3em .5em; border-bottom: 1px solid #f0c0c8; }
        .steps { display: flex; list-style: none; padding: 0; gap: .3em; counter-reset: step; }
        .steps li { flex: 1; background: #eee; padding: .5em; font-size: .85em; text-align: center; }
        .steps li.current { background: var(--red); color: #fff; font-weight: bold; }
        .field { margin: .8em 0; }
        .field label { display: block; font-weight: bold; margin-bottom: .2em; }
        .hint { font-weight: normal; color: #666; font-size: .85em; }
        input[type=text], input[type=password], select { padding: .4em; font-size: 1em; width: 18em; border: 1px solid #999; }
        .field-error, .error { color: var(--red); font-weight: bold; }
        .flash { background: #eef8ee; border: 1px solid #9c9; padding: .5em; }
        .note { color: #444; font-size: .9em; }
        table.data { border-collapse: collapse; width: 100%; }
        table.data th, table.data td { border: 1px solid var(--line); padding: .4em .6em; text-align: left; }
        table.data th { background: #f5f5f5; width: 35%; }
        table#users th, table#users td, table#tokens th, table#tokens td, table#token th, table#token td,
        table#audit th, table#audit td, table#pending th, table#pending td, table#approved th, table#approved td,
        table#account-limits th, table#account-limits td, table#counts th, table#counts td { width: auto; white-space: nowrap; }
        td.num, table.data td.num { text-align: right; }
        table#audit td.actor, table#audit td.subject { white-space: normal; overflow-wrap: break-word; }
        table#audit td.reason { white-space: normal; overflow-wrap: anywhere; min-width: 14em; }
        table#passkeys th, table#passkeys td { width: auto; }
        table#passkeys th { white-space: nowrap; }
        input[type=text].short { width: 11em; }
        .table-wrap { overflow-x: auto; }
        .pk-or { text-align: center; color: #666; }
        .buttons { margin-top: 1.2em; display: flex; gap: .8em; flex-wrap: wrap; }
        button, a.button { padding: .5em 1.2em; border: 1px solid #888; background: #f4f4f4; color: var(--ink); text-decoration: none; cursor: pointer; font-size: .95em; }
        button.primary { background: var(--red); color: #fff; border-color: var(--red); }
        ul.menu { list-style: none; padding: 0; }
        ul.menu li { margin: 1em 0; line-height: 2.4; }
        .warning { color: var(--red); font-weight: bold; }
        form.search { display: flex; flex-wrap: wrap; gap: .5em; align-items: center; margin-bottom: 1em; }
        form.search .pair { display: inline-flex; flex-wrap: wrap; gap: .3em; align-items: center; }
        form.inline { display: inline; }
        .login-links { margin-top: 1.5em; }
        button.swkb { font-size: .8em; padding: .3em .6em; margin-left: .5em; }
        form.inline { display: inline; }
        .notes p { margin: .2em 0; font-size: .9em; }
        .swkb-panel { position: fixed; bottom: 1em; left: 50%; transform: translateX(-50%); background: #fff; border: 2px solid var(--red); padding: .8em; box-shadow: 0 4px 16px rgba(0,0,0,.2); box-sizing: border-box; max-width: calc(100vw - 1em); }
        .swkb-keys { display: grid; grid-template-columns: repeat(10, minmax(1.6em, 2.4em)); gap: .3em; }
        .swkb-keys button { padding: .5em 0; }
        .swkb-keys button.swkb-mode { grid-column: span 2; }
        .swkb-controls { margin-top: .5em; display: flex; gap: .5em; }
        .qr { background: #fff; padding: .5em; display: inline-block; border: 1px solid var(--line); }
        .warning { color: #8a4b00; background: #fff8e6; border: 1px solid #f0c36d; padding: .5em; }
        footer.site { text-align: center; color: #888; font-size: .8em; padding: 2em; }
        """

    /// The software keyboard: a mouse-only keypad with a random layout each time it opens, so a key-logger
    /// sees no keystrokes and a screen recorder cannot infer them from fixed positions. `data-keys="digits"` gives
    /// the digits (PINs, activation and mail passwords); every other password field gets the password keyboard:
    /// digits with lower-case letters, upper-case letters or the 32 ASCII symbols — every character a password may
    /// hold (`CredentialRules`), so whatever the rules allow can be typed by mouse alone.
    static let js = """
        (function () {
          function shuffle(list) {
            var a = list.slice(), r = new Uint32Array(a.length);
            window.crypto.getRandomValues(r);
            for (var i = a.length - 1; i > 0; i--) { var j = r[i] % (i + 1); var t = a[i]; a[i] = a[j]; a[j] = t; }
            return a;
          }
          var digits = "0123456789".split("");
          var lower = "abcdefghijklmnopqrstuvwxyz".split("");
          // The printable ASCII characters that are neither letters nor digits: ! " # $ % & ' ( ) * + , - . / : ; < =
          // > ? @ [ \\ ] ^ _ ` { | } ~
          var symbols = [];
          for (var code = 33; code < 127; code++) {
            var ch = String.fromCharCode(code);
            if (!/[A-Za-z0-9]/.test(ch)) symbols.push(ch);
          }
          var target = null, mode = "lower", kind = "digits";
          function modeButton(panel, label, next, name) {
            var s = document.createElement("button");
            s.type = "button"; s.textContent = label; s.className = "swkb-mode " + name;
            s.addEventListener("click", function () { mode = next; render(panel); });
            return s;
          }
          function render(panel) {
            var keys = panel.querySelector(".swkb-keys");
            keys.innerHTML = "";
            var set = shuffle(digits);
            if (kind !== "digits") {
              set = set.concat(mode === "symbols" ? shuffle(symbols)
                : shuffle(lower).map(function (c) { return mode === "upper" ? c.toUpperCase() : c; }));
            }
            set.forEach(function (c) {
              var b = document.createElement("button");
              b.type = "button"; b.textContent = c; b.className = "swkb-key"; b.setAttribute("data-key", c);
              b.addEventListener("click", function () {
                if (target && (!target.maxLength || target.maxLength < 0 || target.value.length < target.maxLength)) { target.value += c; }
              });
              keys.appendChild(b);
            });
            if (kind !== "digits") {
              keys.appendChild(mode === "upper" ? modeButton(panel, "abc", "lower", "swkb-shift") : modeButton(panel, "ABC", "upper", "swkb-shift"));
              keys.appendChild(mode === "symbols"
                ? modeButton(panel, panel.getAttribute("data-letters") || "abc", "lower", "swkb-symbols")
                : modeButton(panel, panel.getAttribute("data-symbols") || "!?#", "symbols", "swkb-symbols"));
            }
          }
          document.addEventListener("DOMContentLoaded", function () {
            var panel = document.getElementById("swkb-panel");
            if (!panel) return;
            document.querySelectorAll("button.swkb").forEach(function (toggle) {
              toggle.addEventListener("click", function () {
                target = document.getElementById(toggle.getAttribute("data-target"));
                kind = toggle.getAttribute("data-keys") || "digits";
                mode = "lower";
                render(panel);
                panel.hidden = false;
                panel.setAttribute("data-target", target.id);
              });
            });
            panel.querySelector(".swkb-bs").addEventListener("click", function () { if (target) target.value = target.value.slice(0, -1); });
            panel.querySelector(".swkb-clear").addEventListener("click", function () { if (target) target.value = ""; });
            panel.querySelector(".swkb-close").addEventListener("click", function () { panel.hidden = true; });
            // 利用停止解除: selecting (or clearing) one user does the same for every user sharing the token.
            document.querySelectorAll("table[data-shared-select] input[type=checkbox][data-token]").forEach(function (box) {
              box.addEventListener("change", function () {
                var token = box.getAttribute("data-token");
                if (!token) return;
                document.querySelectorAll("table[data-shared-select] input[type=checkbox][data-token='" + token + "']")
                  .forEach(function (other) { other.checked = box.checked; });
              });
            });
            // Double submit: a form is sent once.
            document.querySelectorAll("form").forEach(function (form) {
              form.addEventListener("submit", function (event) {
                if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
                form.setAttribute("data-sent", "1");
              });
            });
          });
          // Passkeys (WebAuthn): a form with data-passkey="create" or "get" holds its options as JSON (made by the
          // server, with a single-use challenge) and a hidden "credential" field. Its button runs the ceremony, puts
          // the browser's answer in the field and sends the form; the server checks everything. A cancelled or failed
          // ceremony sends nothing and says so on the page (the usual login or the OTP stays there).
          function fromB64(s) {
            s = s.replace(/-/g, "+").replace(/_/g, "/"); while (s.length % 4) s += "=";
            var bin = atob(s), a = new Uint8Array(bin.length);
            for (var i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i);
            return a.buffer;
          }
          function toB64(buffer) {
            var a = new Uint8Array(buffer), s = "";
            for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
            return btoa(s).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
          }
          function descriptors(list) {
            return (list || []).map(function (c) { var d = { type: c.type, id: fromB64(c.id) }; if (c.transports) d.transports = c.transports; return d; });
          }
          function options(form) {
            var o = JSON.parse(form.querySelector("script.passkey-options").textContent);
            o.challenge = fromB64(o.challenge);
            if (o.user) { o.user.id = fromB64(o.user.id); o.excludeCredentials = descriptors(o.excludeCredentials); }
            else { o.allowCredentials = descriptors(o.allowCredentials); }
            return o;
          }
          function answer(c) {
            var r = c.response, out = { id: c.id, rawId: toB64(c.rawId), type: c.type, response: { clientDataJSON: toB64(r.clientDataJSON) } };
            if (r.attestationObject) {
              out.response.attestationObject = toB64(r.attestationObject);
              out.response.transports = r.getTransports ? r.getTransports() : [];
            } else {
              out.response.authenticatorData = toB64(r.authenticatorData);
              out.response.signature = toB64(r.signature);
              out.response.userHandle = r.userHandle ? toB64(r.userHandle) : null;
            }
            return out;
          }
          function send(form, credential) {
            form.querySelector("input[name=credential]").value = JSON.stringify(answer(credential));
            form.setAttribute("data-sent", "1");
            HTMLFormElement.prototype.submit.call(form);
          }
          function fail(form, error) {
            var note = form.querySelector(".passkey-message");
            if (!note) return;
            note.textContent = (error && error.name === "NotAllowedError") ? note.getAttribute("data-cancelled") : note.getAttribute("data-failed");
            note.hidden = false;
          }
          document.addEventListener("DOMContentLoaded", function () {
            var conditional = null;
            document.querySelectorAll("form[data-passkey]").forEach(function (form) {
              var mode = form.getAttribute("data-passkey");
              if (!window.PublicKeyCredential || !navigator.credentials) {
                var none = form.querySelector(".passkey-message");
                if (none) { none.textContent = none.getAttribute("data-unsupported"); none.hidden = false; }
                form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
                return;
              }
              // Autofill (conditional mediation) on the login pages, where the browser offers it.
              if (mode === "get" && form.hasAttribute("data-autofill") && PublicKeyCredential.isConditionalMediationAvailable) {
                PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
                  if (!available) return;
                  conditional = new AbortController();
                  navigator.credentials.get({ mediation: "conditional", publicKey: options(form), signal: conditional.signal })
                    .then(function (c) { if (c) send(form, c); }).catch(function () {});
                });
              }
              var start = form.querySelector("button.passkey-start");
              if (!start) return;
              start.addEventListener("click", function (event) {
                event.preventDefault();
                if (conditional) { conditional.abort(); conditional = null; }
                var note = form.querySelector(".passkey-message"); if (note) note.hidden = true;
                var name = form.querySelector("input[name=name]");
                if (name && !name.value.trim()) { fail(form, { name: "NameMissing" }); if (note) note.textContent = note.getAttribute("data-name"); return; }
                var request = mode === "create"
                  ? navigator.credentials.create({ publicKey: options(form) })
                  : navigator.credentials.get({ publicKey: options(form) });
                request.then(function (c) { if (c) send(form, c); else fail(form, null); })
                  .catch(function (error) { fail(form, error); });
              });
            });
          });
        })();
        """
}
