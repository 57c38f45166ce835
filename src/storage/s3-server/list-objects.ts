/** ListObjectsV2 over the sorted keys of a bucket: prefix, delimiter, max-keys, start-after, continuation. */
import { ObjectFolder } from './object-folder.js';
import { S3Error } from './s3-error.js';
import { element, xmlDocument } from './xml.js';

const MAX_KEYS = 1000;

function parseMaxKeys(text: string | null): number {
  if (text === null) return MAX_KEYS;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new S3Error(400, 'InvalidArgument', `max-keys must be a whole number, got '${text}'`);
  return Math.min(n, MAX_KEYS);
}

function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString();
  if (Buffer.from(key).toString('base64url') !== token) throw new S3Error(400, 'InvalidArgument', 'the continuation token is not one this server gave');
  return key;
}

export async function listObjectsV2(folder: ObjectFolder, bucket: string, params: URLSearchParams): Promise<string> {
  const prefix = params.get('prefix') ?? '';
  const delimiter = params.get('delimiter') ?? '';
  const maxKeys = parseMaxKeys(params.get('max-keys'));
  const token = params.get('continuation-token');
  const startAfter = params.get('start-after') ?? '';
  const urlEncoded = params.get('encoding-type') === 'url';
  if (params.has('encoding-type') && !urlEncoded) throw new S3Error(400, 'InvalidArgument', "encoding-type must be 'url'");
  const after = token !== null ? decodeToken(token) : startAfter;
  const keys = await folder.keys(bucket, prefix, after);
  const encode = (text: string): string => (urlEncoded ? encodeURIComponent(text) : text);
  const contents: string[] = [];
  const prefixes: string[] = [];
  let last = '';
  let i = 0;
  while (i < keys.length && contents.length + prefixes.length < maxKeys) {
    const key = keys[i]!;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      prefixes.push(`<CommonPrefixes>${element('Prefix', encode(common))}</CommonPrefixes>`);
      while (i < keys.length && keys[i]!.startsWith(common)) last = keys[i++]!;
      continue;
    }
    const object = await folder.stat(bucket, key);
    last = key;
    i++;
    if (!object) continue; // removed since the folder was read
    contents.push(
      `<Contents>${element('Key', encode(key))}${element('LastModified', object.lastModified.toISOString())}${element('ETag', object.etag)}` +
        `${element('Size', object.size)}${element('StorageClass', 'STANDARD')}</Contents>`,
    );
  }
  const truncated = i < keys.length;
  return xmlDocument(
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      element('Name', bucket) +
      element('Prefix', encode(prefix)) +
      (delimiter ? element('Delimiter', encode(delimiter)) : '') +
      element('MaxKeys', maxKeys) +
      element('KeyCount', contents.length + prefixes.length) +
      element('IsTruncated', truncated) +
      (token !== null ? element('ContinuationToken', token) : '') +
      (truncated ? element('NextContinuationToken', Buffer.from(last).toString('base64url')) : '') +
      (startAfter ? element('StartAfter', encode(startAfter)) : '') +
      (urlEncoded ? element('EncodingType', 'url') : '') +
      contents.join('') +
      prefixes.join('') +
      '</ListBucketResult>',
  );
}
