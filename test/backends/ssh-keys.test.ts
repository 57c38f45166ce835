/**
 * The test SSH server's key pairs: every one parses and signs, even though ssh2's generator
 * writes a malformed ed25519 key about once in 300 (such a key made a Kubernetes tunnel test fail
 * with "parsed.getPublicSSH is not a function").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { keyPair } from './ssh-server.js';

describe('test SSH key pairs', () => {
  it('1,500 ed25519 key pairs in a row all parse, and their public blobs are the parsed keys', () => {
    for (let i = 0; i < 1500; i++) {
      const kp = keyPair('ed25519');
      const again = ssh2.utils.parseKey(kp.private);
      assert.ok(!(again instanceof Error) && !Array.isArray(again), `key ${i} parses`);
      assert.deepEqual(again.getPublicSSH(), kp.blob);
      assert.ok(kp.parsed.verify(Buffer.from('x'), kp.parsed.sign(Buffer.from('x'))), `key ${i} signs`);
    }
  });
});
