// Deposits from a connected wallet, through the Wallet Standard (the interface Phantom,
// Solflare, Backpack and others register in the page): the market builds the transfer to
// its vault, the wallet signs it (solana:signTransaction), the market co-signs as fee
// payer, sends it, and credits the deposit once it landed. Nothing moves without the
// wallet's own confirmation.
import { base58, postJSON } from "./util.js";

const panel = document.getElementById("wallet-deposit");
const wallets = [];

function signerIndex(wire, address) {
  // wire: [signature count][64-byte slots][message]; the message starts with its header
  // (required signatures first among its account keys), then the keys' count and keys.
  const count = wire[0];
  const message = wire.subarray(1 + 64 * count);
  const required = message[0];
  const keys = message.subarray(4);
  for (let i = 0; i < Math.min(required, message[3]); i += 1) {
    if (base58(keys.subarray(32 * i, 32 * i + 32)) === address) return i;
  }
  throw new Error("the transfer does not ask this wallet's account to sign");
}

async function depositWith(wallet, status) {
  const amount = document.getElementById("wallet-amount").value.trim();
  const { accounts } = await wallet.features["standard:connect"].connect();
  const account = accounts.find((a) => a.address === panel.dataset.signer) || accounts[0];
  if (!account) throw new Error("the wallet shared no account");
  const quote = await postJSON("/dashboard/deposits/quote", { amount });
  const wire = Uint8Array.from(atob(quote.transaction), (c) => c.charCodeAt(0));
  status.textContent = "Confirm the transfer in your wallet…";
  const [signed] = await wallet.features["solana:signTransaction"].signTransaction({ account, transaction: wire });
  const at = 1 + 64 * signerIndex(wire, account.address);
  const signature = base58(signed.signedTransaction.subarray(at, at + 64));
  status.textContent = "Sending and waiting for the chain…";
  const done = await postJSON("/dashboard/deposits/wallet", { amount: quote.amount, blockhash: quote.blockhash, signature });
  window.location.assign(`/dashboard?done=deposited&amount=${encodeURIComponent(done.shown)}`);
}

function render() {
  const status = panel.querySelector("[data-wallet-status]");
  const slot = panel.querySelector("[data-wallets]");
  const usable = wallets.filter((w) => w.features["standard:connect"] && w.features["solana:signTransaction"]);
  status.textContent = usable.length
    ? "Choose your wallet: it asks you to confirm the transfer."
    : "No Solana wallet found in this browser; paste a signature below instead.";
  slot.replaceChildren(...usable.map((wallet) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn";
    button.textContent = `Deposit with ${wallet.name}`;
    button.addEventListener("click", () => {
      button.disabled = true;
      depositWith(wallet, status).catch((error) => {
        status.textContent = error.message;
        button.disabled = false;
      });
    });
    return button;
  }));
}

if (panel) {
  const api = { register: (...found) => { wallets.push(...found); render(); return () => {}; } };
  window.addEventListener("wallet-standard:register-wallet", ({ detail }) => detail(api));
  window.dispatchEvent(new CustomEvent("wallet-standard:app-ready", { detail: api }));
  setTimeout(render, 500);  // wallets that registered before us answer app-ready at once
}
