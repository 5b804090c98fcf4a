// Cash-out: "All of it" fills in the wallet's balance; on the confirmation page, the
// browser's key signs the transfer the market built (its message bytes, base64) and the
// signature goes back with the same inputs. The market rebuilds the message, checks the
// signature, adds its own as fee payer and sends it.
import { base58, t } from "./util.js";
import { loadKey, signWith } from "./keys.js";

for (const button of document.querySelectorAll("[data-all]")) {
  button.addEventListener("click", () => {
    document.getElementById("cashout-amount").value = button.dataset.all;
  });
}

const form = document.getElementById("cashout-send");
if (form) {
  const status = form.querySelector("[data-sign-status]");
  const button = form.querySelector("[data-sign]");
  const message = Uint8Array.from(atob(form.dataset.message), (c) => c.charCodeAt(0));
  let key = null;
  loadKey().then((found) => {
    key = found && found.address === form.dataset.signer ? found : null;
    status.textContent = key
      ? t("Your key is here. Nothing is sent until you press the button.")
      : t("This browser does not keep the key of the address you signed in with. Sign in with that key here, or send from the wallet that holds it.");
    button.disabled = !key;
  }).catch((error) => { status.textContent = error.message; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!key) return;
    button.disabled = true;
    status.textContent = t("Signing and sending…");
    form.elements.signature.value = base58(await signWith(key, message));
    form.submit();
  });
}
