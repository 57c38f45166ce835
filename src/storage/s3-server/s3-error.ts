/** S3's error answer: an HTTP status, a code, a message, as the `<Error>` XML document S3 sends. */

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export const notImplemented = (what: string): S3Error => new S3Error(501, 'NotImplemented', `${what} is not implemented by the embedded S3 server`);

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

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

export function errorDocument(err: S3Error, resource: string): string {
  return xmlDocument(`<Error>${element('Code', err.code)}${element('Message', err.message)}${element('Resource', resource)}</Error>`);
}
