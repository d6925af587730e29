// The hub's JSON, read exactly: integers past 2^53 (ids and seqs are 64-bit) become BigInts.
//
// JSON.parse rounds 9007199254740993 to 9007199254740992, and two seqs of one producer
// that differ only past 2^53 would look like one record. A reviver that sees each
// number's source text keeps those as BigInt; it is used only when the text holds a bare
// integer long enough to need it, since a reviver slows parsing down.

const LONG_NUMBER = /[:,[]\s*-?\d{16,}/;

function exact(key, value, context) {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/** Parse one frame or body of the hub. */
export function parseJSON(text) {
  return LONG_NUMBER.test(text) ? JSON.parse(text, exact) : JSON.parse(text);
}

/** JSON text for a value that may hold BigInts (written as plain integers). */
export function toJSON(value, indent) {
  const nonce = Math.random().toString(36).slice(2);
  const big = [];
  const text = JSON.stringify(value, (key, v) => {
    if (typeof v !== "bigint") return v;
    big.push(v.toString());
    return `big:${nonce}:${big.length - 1}`;
  }, indent);
  if (!big.length) return text;
  return text.replace(new RegExp(`"big:${nonce}:(\\d+)"`, "g"), (_, i) => big[Number(i)]);
}
