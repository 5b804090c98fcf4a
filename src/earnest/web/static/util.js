// Small helpers the pages share: base58 (Solana addresses, signatures), JSON posts, amounts,
// and the page's language.

// A message in the page's language: the page hands its scripts' translations in a JSON
// block (web/i18n.py, script_strings); the English text is the key. `make i18n` extracts
// every t("...") of these scripts into the catalogs. %(name)s is filled from `values`.
const STRINGS = JSON.parse(document.getElementById("strings")?.textContent || "{}");
export function t(message, values = {}) {
  return (STRINGS[message] || message).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}
// Base58 uses the Bitcoin alphabet, as Solana does.
const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export function base58(bytes) {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits = [];
  for (const byte of bytes) {
    let carry = byte;
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j] << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  return "1".repeat(zeros) + digits.reverse().map((d) => ALPHABET[d]).join("");
}

// Base58 text back to bytes; null when a character is not in the alphabet.
export function unbase58(text) {
  const bytes = [];
  for (const char of text) {
    let carry = ALPHABET.indexOf(char);
    if (carry < 0) return null;
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j] * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (const char of text) {
    if (char !== "1") break;
    bytes.push(0);
  }
  return Uint8Array.from(bytes.reverse());
}

// POST JSON; on an error answer, throw with the server's explanation (problem JSON `detail`).
export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || t("the server answered %(status)s", { status: response.status }));
  return answer;
}

// A base-unit amount as tokens ("1500000" with 6 decimals is "1.5"): exact, no floats.
export function formatUnits(amount, decimals) {
  const digits = String(amount).padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const frac = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole;
}
