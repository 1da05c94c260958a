/**
 * Just enough XML for S3's answers (ListObjectsV2, ListMultipartUploads, InitiateMultipartUpload,
 * CompleteMultipartUpload, Error): the text of named elements, in order. S3's responses are
 * flat and machine-written, so no general parser (nor a dependency) is needed.
 */

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] !== '#') return ENTITIES[e.toLowerCase()];
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

/** The inner XML of every `<tag>` element of `xml`, in order (not nested in one another). */
export function elements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>|<${tag}(?:\\s[^>]*)?/>`, 'g');
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) out.push(m[1] ?? '');
  return out;
}

/** The decoded text of the first `<tag>` of `xml`, or undefined. */
export function text(xml: string, tag: string): string | undefined {
  const [first] = elements(xml, tag);
  return first === undefined ? undefined : decode(first);
}

/** The decoded texts of every `<tag>` of `xml`. */
export const texts = (xml: string, tag: string): string[] => elements(xml, tag).map(decode);

/** `s` escaped for an XML text node. */
export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`);
