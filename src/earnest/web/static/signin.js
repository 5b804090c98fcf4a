// Sign in with a wallet extension (Wallet Standard: standard:connect + solana:signMessage),
// or with a key kept in this browser. Either way the server's one-use challenge
// (POST /v1/auth/challenge) is signed here and exchanged for the session cookie.
import { base58, postJSON, t } from "./util.js";
import { addressOf, createKey, exportKeypair, exportSecret, importSecret, loadKey, parseSecret, signWith } from "./keys.js";

const root = document.getElementById("signin");
const next = root.dataset.next || "/work";
const status = document.getElementById("key-status");
const useKey = document.getElementById("use-key");
const exportButton = document.getElementById("export-key");
const showSecret = document.getElementById("show-secret");
const replacePanel = document.getElementById("replace-key");
const problem = document.getElementById("signin-error");
let key = null;

function fail(error) {
  problem.textContent = t("Could not sign in: %(problem)s", { problem: error.message });
  problem.hidden = false;
}

async function signIn(address, sign) {
  problem.hidden = true;
  const challenge = await postJSON("/v1/auth/challenge", { address });
  const signature = await sign(new TextEncoder().encode(challenge.message));
  await postJSON("/session", { message: challenge.message, signature: base58(signature) });
  location.assign(next);
}

function showKey() {
  status.textContent = key
    ? t("This browser keeps the key of %(address)s.", { address: key.address })
    : t("No key in this browser yet: one is created when you sign in.");
  status.dataset.address = key ? key.address : "";
  useKey.textContent = key ? t("Sign in with this browser's key") : t("Create a key and sign in");
  useKey.disabled = false;
  exportButton.disabled = !key;
  showSecret.disabled = !key;
}

useKey.addEventListener("click", async () => {
  useKey.disabled = true;
  try {
    key = key || (await createKey());
    showKey();
    await signIn(key.address, (bytes) => signWith(key, bytes));
  } catch (error) {
    fail(error);
    useKey.disabled = false;
  }
});

exportButton.addEventListener("click", () => download(key));

async function download(which) {
  const blob = new Blob([await exportKeypair(which)], { type: "application/json" });
  const link = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(blob),
    download: `earnest-${which.address.slice(0, 8)}.json`,
  });
  link.click();
  URL.revokeObjectURL(link.href);
}

showSecret.addEventListener("click", async () => {
  document.getElementById("secret-key").value = await exportSecret(key);
  document.getElementById("secret-box").hidden = false;
});

// Bringing a key never silently replaces the one kept here: the worker is shown both
// addresses and asked to back the old one up first.
let pending = null;

async function bring(text) {
  problem.hidden = true;
  replacePanel.hidden = true;
  try {
    const secret = parseSecret(text);
    const { address } = await addressOf(secret);
    if (key && key.address !== address) {
      pending = secret;
      replacePanel.querySelector("[data-old]").textContent = key.address;
      replacePanel.querySelector("[data-new]").textContent = address;
      replacePanel.hidden = false;
      document.getElementById("replace-backup").focus();
      return;
    }
    key = await importSecret(secret);
    showKey();
  } catch (error) {
    problem.textContent = t("That key cannot be used: %(problem)s", { problem: error.message });
    problem.hidden = false;
  }
}

document.getElementById("replace-backup").addEventListener("click", () => download(key));
document.getElementById("replace-cancel").addEventListener("click", () => {
  pending = null;
  replacePanel.hidden = true;
});
document.getElementById("replace-confirm").addEventListener("click", async () => {
  if (!pending) return;
  key = await importSecret(pending);
  pending = null;
  replacePanel.hidden = true;
  document.getElementById("secret-box").hidden = true;
  showKey();
});

document.getElementById("import-key").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (file) await bring(await file.text());
  event.target.value = "";
});
document.getElementById("use-pasted").addEventListener("click", async () => {
  const field = document.getElementById("paste-key");
  await bring(field.value);
  field.value = "";
});

// Wallet Standard discovery: wallets register themselves when the app announces it is ready.
const wallets = new Map();
function register(...found) {
  for (const wallet of found) {
    if (wallet.features?.["standard:connect"] && wallet.features?.["solana:signMessage"]) wallets.set(wallet.name, wallet);
  }
  renderWallets();
  return () => {};
}

function renderWallets() {
  const list = document.getElementById("wallet-buttons");
  list.replaceChildren(...[...wallets.values()].map((wallet) => {
    const button = Object.assign(document.createElement("button"), {
      type: "button", className: "btn btn-big", textContent: t("Sign in with %(wallet)s", { wallet: wallet.name }),
    });
    button.addEventListener("click", () => signInWithWallet(wallet).catch(fail));
    return button;
  }));
  document.getElementById("wallets").hidden = wallets.size === 0;
}

async function signInWithWallet(wallet) {
  const { accounts } = await wallet.features["standard:connect"].connect();
  const account = accounts[0];
  await signIn(account.address, async (message) => {
    const [signed] = await wallet.features["solana:signMessage"].signMessage({ account, message });
    return signed.signature;
  });
}

window.addEventListener("wallet-standard:register-wallet", (event) => event.detail({ register }));

// On a phone with no wallet in this browser: offer to open the page in a wallet app's own
// browser (Phantom's and Solflare's universal links), where the wallet is found as above.
setTimeout(() => {
  const phone = window.matchMedia?.("(pointer: coarse)").matches;
  document.getElementById("open-in-wallet").hidden = !(phone && wallets.size === 0);
}, 800);
window.dispatchEvent(new CustomEvent("wallet-standard:app-ready", { detail: { register } }));

if (!window.crypto?.subtle) {
  status.textContent = t("This page needs a secure connection (https) to create a key.");
} else {
  loadKey().then((found) => { key = found || null; showKey(); }).catch(fail);
}
