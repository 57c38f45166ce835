/** S3's error answer: an HTTP status, a code and a message (sent as xml.ts's errorDocument). */
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
