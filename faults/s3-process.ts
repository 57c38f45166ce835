/**
 * The embedded S3 server in a process of its own, so that the fault suite can kill it for real
 * (SIGKILL) and start it again on the same port and folder:
 *   node dist/faults/s3-process.js <folder> <port>   (keys in S3_ACCESS_KEY, S3_SECRET_KEY)
 * It prints its endpoint on one line when it listens.
 */
import { startS3Server } from '../src/storage/s3-server/server.js';

const [dir, port] = process.argv.slice(2);
const server = await startS3Server({ dir: dir!, port: Number(port ?? 0), accessKey: process.env.S3_ACCESS_KEY!, secretKey: process.env.S3_SECRET_KEY! });
process.stdout.write(`${server.endpoint}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
