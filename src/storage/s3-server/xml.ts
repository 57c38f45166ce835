/** The little XML S3 speaks here: escaping text into elements, and reading entities back out. */
import { S3Error } from './s3-error.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** `<Tag>escaped text</Tag>` */
export function element(tag: string, text: string | number | boolean): string {
  return `<${tag}>${xmlEscape(String(text))}</${tag}>`;
}

export function xmlDocument(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

/** S3's `<Error>` document. */
export function errorDocument(err: { code: string; message: string }, resource: string): string {
  return xmlDocument(`<Error>${element('Code', err.code)}${element('Message', err.message)}${element('Resource', resource)}</Error>`);
}

/** Element text with its entities (named, decimal, hex) replaced by the characters they stand for. */
export function xmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    if (entity[0] !== '#') return NAMED[entity.toLowerCase()]!;
    const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : Number(entity.slice(1));
    if (code > 0x10ffff) throw new S3Error(400, 'MalformedXML', `&${entity}; is not a character`);
    return String.fromCodePoint(code);
  });
}
