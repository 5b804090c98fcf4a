// A Solana key kept in this browser: an Ed25519 WebCrypto key stored in IndexedDB.
// It can be downloaded, and brought back, as a Solana CLI keypair file (64 numbers:
// the 32-byte seed, then the 32-byte public key), or as the same 64 bytes in base58, the
// "private key" text Phantom and Solflare import and export.
import { base58, t, unbase58 } from "./util.js";

const SLOT = "browser-key";
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

function store(mode, act) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("earnest", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("keys");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("keys", mode);
      const request = act(tx.objectStore("keys"));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    };
  });
}

export const loadKey = () => store("readonly", (s) => s.get(SLOT));
const saveKey = (key) => store("readwrite", (s) => s.put(key, SLOT)).then(() => key);

async function remember(privateKey, publicRaw) {
  return saveKey({ privateKey, publicRaw, address: base58(publicRaw) });
}

export async function createKey() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return remember(pair.privateKey, publicRaw);
}

export async function signWith(key, bytes) {
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, bytes));
}

async function secretBytes(key) {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", key.privateKey));
  return Uint8Array.from([...pkcs8.slice(pkcs8.length - 32), ...key.publicRaw]);
}

export async function exportKeypair(key) {
  return JSON.stringify([...(await secretBytes(key))]);
}

// The base58 secret key, as Phantom and Solflare import it.
export async function exportSecret(key) {
  return base58(await secretBytes(key));
}

const NOT_A_KEY = () => t("this is not a key: expected a Solana CLI keypair file (a list of 64 numbers) or a base58 secret key (as Phantom and Solflare export it)");

// The 64 secret bytes in a keypair file's text or a pasted base58 secret key.
export function parseSecret(text) {
  const trimmed = text.trim();
  let bytes = null;
  if (trimmed.startsWith("[")) {
    let numbers = null;
    try { numbers = JSON.parse(trimmed); } catch { throw new Error(NOT_A_KEY()); }
    if (!Array.isArray(numbers) || numbers.length !== 64 || numbers.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
      throw new Error(NOT_A_KEY());
    }
    bytes = Uint8Array.from(numbers);
  } else {
    bytes = unbase58(trimmed);
  }
  if (!bytes || bytes.length !== 64) throw new Error(NOT_A_KEY());
  return bytes;
}

// The address a secret key signs for, checked against the secret (a mangled file is refused).
export async function addressOf(secret) {
  const privateKey = await crypto.subtle.importKey(
    "pkcs8", Uint8Array.from([...PKCS8_PREFIX, ...secret.slice(0, 32)]), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const derived = Uint8Array.from(atob(jwk.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  if (base58(derived) !== base58(secret.slice(32))) throw new Error(t("the key's public half does not match its secret half: the file is damaged"));
  return { privateKey, address: base58(derived) };
}

export async function importSecret(secret) {
  const { privateKey } = await addressOf(secret);
  return remember(privateKey, secret.slice(32));
}
