/**
 * A small strict XML reader for checking the service definitions (WinSW XML, launchd plist):
 * elements, attributes, text, comments, the declaration and DOCTYPE; mismatched tags throw.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ENTITIES[e] ?? '');

export function parseXml(src: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) { top.text += decode(src.slice(i)); break; }
    top.text += decode(src.slice(i, lt));
    if (src.startsWith('<!--', lt)) { i = end(src, '-->', lt) + 3; continue; }
    if (src.startsWith('<?', lt)) { i = end(src, '?>', lt) + 2; continue; }
    if (src.startsWith('<!', lt)) { i = end(src, '>', lt) + 1; continue; }
    const close = end(src, '>', lt);
    const tag = src.slice(lt + 1, close);
    i = close + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open?.name !== name || stack.length === 0) throw new Error(`mismatched </${name}> (open: ${open?.name ?? 'none'})`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([\w:.-]+)([\s\S]*)$/.exec(body.trim());
    if (m?.[1] === undefined) throw new Error(`bad tag <${tag}>`);
    const el: XmlElement = { name: m[1], attrs: {}, children: [], text: '' };
    for (const a of (m[2] ?? '').matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) el.attrs[a[1]!] = decode(a[2]!);
    top.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  const [doc] = root.children;
  if (doc === undefined || root.children.length !== 1) throw new Error('expected exactly one root element');
  return doc;
}

function end(src: string, token: string, from: number): number {
  const j = src.indexOf(token, from);
  if (j < 0) throw new Error(`unterminated markup at ${from}`);
  return j;
}

export const child = (el: XmlElement, name: string): XmlElement | undefined => el.children.find((c) => c.name === name);
export const all = (el: XmlElement, name: string): XmlElement[] => el.children.filter((c) => c.name === name);

/** A launchd property list value as plain JS. */
export function plistValue(el: XmlElement): unknown {
  switch (el.name) {
    case 'string': return el.text;
    case 'integer': return Number(el.text.trim());
    case 'true': return true;
    case 'false': return false;
    case 'array': return el.children.map(plistValue);
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (let k = 0; k < el.children.length; k += 2) {
        const key = el.children[k]!;
        const value = el.children[k + 1];
        if (key.name !== 'key' || value === undefined) throw new Error(`plist dict: expected <key> then a value at ${k}`);
        out[key.text] = plistValue(value);
      }
      return out;
    }
    default: throw new Error(`unsupported plist element <${el.name}>`);
  }
}
