// Re-check a receipt's Merkle proof here, with the browser's own SHA-256: the leaf is
// sha256(0x00 || digest), each step sha256(0x01 || left || right), as domain/receipts.py.
const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
const sha256 = async (...parts) => new Uint8Array(await crypto.subtle.digest("SHA-256", Uint8Array.from(parts.flatMap((p) => [...p]))));

async function verify() {
  const digest = document.querySelector("[data-digest]").textContent.trim();
  const root = document.querySelector("[data-root]").textContent.trim();
  const proof = JSON.parse(document.querySelector("[data-proof]")?.dataset.proof || "[]");
  let node = await sha256([0], bytes(digest));
  for (const step of proof) {
    node = step.side === "left" ? await sha256([1], bytes(step.hash), node) : await sha256([1], node, bytes(step.hash));
  }
  return hex(node) === root;
}

const button = document.querySelector("[data-verify]");
button?.addEventListener("click", async () => {
  const result = document.querySelector("[data-verify-result]");
  result.textContent = (await verify())
    ? "Checked in this browser: the receipt is a leaf of the root in the payout's memo."
    : "This browser could not link the receipt to the root.";
});
