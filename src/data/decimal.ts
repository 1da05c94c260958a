/**
 * Numbers read straight from a CSV record's bytes, without making a string: the common
 * plain decimal (`-12.375`, `0`, `255`) with at most 15 significant digits and 22 decimals is
 * an exact integer divided by an exact power of ten, so one IEEE division gives the correctly
 * rounded double — the same bits as `Number(text)` (Clinger's fast path). Anything else
 * (exponents, more digits, spaces, words) is NaN here, and the caller reads its text.
 */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k); // 10^0 … 10^22, each exact in a double

const ZERO = 48,
  DOT = 46,
  MINUS = 45,
  PLUS = 43;

/**
 * Splits a record at `delimiter` and reads each field as a plain decimal, in one pass over
 * its bytes: field f spans bytes [bounds[2f], bounds[2f+1]) and its value is values[f] (NaN
 * where it is no plain decimal). Both arrays must hold a field per byte, plus one. Returns
 * the number of fields.
 */
export function splitDecimals(bytes: Uint8Array, delimiter: number, bounds: Int32Array, values: Float64Array): number {
  const length = bytes.length;
  let n = 0,
    start = 0;
  for (;;) {
    // One field: an optional sign, then digits with at most one dot, up to the delimiter.
    let i = start,
      sign = 1,
      mantissa = 0,
      significant = 0,
      decimals = 0,
      digits = 0,
      dot = false,
      plain = true,
      c = 0;
    if (i < length && (bytes[i] === MINUS || bytes[i] === PLUS)) sign = bytes[i++] === MINUS ? -1 : 1;
    for (; i < length; i++) {
      c = bytes[i];
      const d = c - ZERO;
      if (d >= 0 && d <= 9) {
        digits++;
        if (dot) decimals++;
        if (mantissa === 0 && d === 0) continue; // a leading zero adds nothing
        if (++significant > 15) plain = false;
        else mantissa = mantissa * 10 + d;
      } else if (c === delimiter) break;
      else if (c === DOT && !dot) dot = true;
      else plain = false;
    }
    bounds[2 * n] = start;
    bounds[2 * n + 1] = i;
    values[n++] =
      plain && digits > 0 && decimals <= 22 ? sign * (decimals === 0 ? mantissa : mantissa / POW10[decimals]) : NaN;
    if (i >= length) return n;
    start = i + 1;
  }
}
