/** Requests on a bucket: exists (HEAD), create (PUT), location, ListObjectsV2, multi-object delete. */
import { listObjectsV2 } from './list-objects.js';
import type { ObjectFolder } from './object-folder.js';
import { readBody, sendXml, type Routes } from './routes.js';
import { S3Error, notImplemented } from './s3-error.js';
import { element, xmlDocument, xmlText } from './xml.js';

const NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const MAX_DELETE_KEYS = 1000;

export function bucketRoutes(folder: ObjectFolder, bucket: string, region: string): Routes {
  return {
    HEAD: {
      params: [],
      handler: async (_req, res) => void res.writeHead((await folder.bucketExists(bucket)) ? 200 : 404).end(),
    },
    PUT: {
      params: [],
      handler: async (req, res, hash) => {
        await readBody(req, hash); // an optional CreateBucketConfiguration: any region is this server's
        if (!(await folder.createBucket(bucket))) throw new S3Error(409, 'BucketAlreadyOwnedByYou', `the bucket '${bucket}' already exists`);
        res.writeHead(200, { location: `/${bucket}`, 'content-length': 0 }).end();
      },
    },
    'GET?location': {
      params: ['location'],
      handler: async (_req, res) => {
        await folder.checkBucket(bucket);
        sendXml(res, 200, xmlDocument(`<LocationConstraint xmlns="${NAMESPACE}">${region}</LocationConstraint>`));
      },
    },
    'GET?list-type': {
      params: ['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after', 'encoding-type', 'fetch-owner'],
      handler: async (req, res) => {
        const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
        if (params.get('list-type') !== '2') throw notImplemented(`list-type=${params.get('list-type')}`);
        sendXml(res, 200, await listObjectsV2(folder, bucket, params));
      },
    },
    'POST?delete': {
      params: ['delete'],
      handler: async (req, res, hash) => {
        const xml = (await readBody(req, hash)).toString();
        if (!/<Delete[\s>]/.test(xml)) throw new S3Error(400, 'MalformedXML', 'the body is not a <Delete> document');
        const keys = [...xml.matchAll(/<Object>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Object>/g)].map((m) => xmlText(m[1]!));
        if (keys.length > MAX_DELETE_KEYS) throw new S3Error(400, 'MalformedXML', `a delete request names at most ${MAX_DELETE_KEYS} keys`);
        await folder.checkBucket(bucket);
        await Promise.all(keys.map((key) => folder.remove(bucket, key)));
        const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(xml);
        const deleted = quiet ? '' : keys.map((k) => `<Deleted>${element('Key', k)}</Deleted>`).join('');
        sendXml(res, 200, xmlDocument(`<DeleteResult xmlns="${NAMESPACE}">${deleted}</DeleteResult>`));
      },
    },
  };
}
