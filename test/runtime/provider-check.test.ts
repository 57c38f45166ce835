/**
 * A provider that cannot load here is refused in one line, by the real executable: nothing that
 * onnxruntime's native code writes while trying it (Dawn's Vulkan warning with its source
 * location, for WebGPU and CUDA) reaches the user, and onnxruntime's own source paths are cut out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ortMessage } from '../../src/runtime/ort-message.js';
import { probeProviders } from '../../src/runtime/provider-probe.js';
import { probeModel } from '../../src/runtime/probe.js';
import { loadableProviders, tempDirs, writeZooModel } from '../helpers.js';
import { projectRoot } from '../models/zoo.js';

const bin = join(projectRoot(), 'dist', 'src', 'cli', 'bin.js');
const tempDir = tempDirs();

describe('execution provider check', () => {
  it("onnxruntime's messages lose their source file, line and function, and keep what went wrong", () => {
    const enforce =
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters';
    assert.equal(ortMessage(enforce), 'Failed to get a WebGPU adapter: No supported adapters');
    assert.equal(ortMessage('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'), 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
    assert.equal(ortMessage('/src/core/session.cc:42 void f() Load model failed'), 'Load model failed');
  });

  it('probes providers in a child process: cpu loads, an unknown provider does not, in the order asked', async () => {
    const [cpu, bogus] = await probeProviders([{ name: 'cpu' }, { name: 'no-such-provider' }], probeModel());
    assert.equal(cpu, undefined);
    assert.match(bogus ?? '', /\S/);
  });

  for (const execType of ['WebGPU', 'GPU']) {
    it(`run --exec_type ${execType} where it cannot load: one line on stderr, exit 1`, async (t) => {
      const provider = execType === 'GPU' ? 'cuda' : 'webgpu';
      if ((await loadableProviders()).includes(provider)) return t.skip(`${provider} loads here`);
      const file = writeZooModel('lenet5', await tempDir('provider'));
      const r = spawnSync(process.execPath, [bin, 'run', '--onnx_file', file, '--split_layer', '3', '--rep', '1', '--exec_type', execType], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`^onnx-manager: execution provider '${provider}' is not available here \\([^/]*\\); available here: cpu`));
    });
  }
});
