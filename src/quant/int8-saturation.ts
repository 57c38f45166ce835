/**
 * Whether onnxruntime's int8 kernels saturate on this CPU. On x86-64 without VNNI (AVX2, and
 * AVX-512 before VNNI), its u8s8 MatMulInteger and ConvInteger multiply uint8 activations by int8
 * weights with instructions that add each pair of products in 16 bits: 8-bit weights overflow
 * there, and the outputs go wrong by several percent. VNNI adds in 32 bits; ARM64 widens first.
 */
import { readFileSync } from 'node:fs';

/** The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read). */
function cpuFlags(): Set<string> {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = /^flags\s*:(.*)$/m.exec(text);
    return new Set((line?.[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

let cached: boolean | undefined;

/** True on an x86-64 CPU whose flags show no VNNI. */
export function int8Saturates(): boolean {
  if (cached !== undefined) return cached;
  if (process.arch !== 'x64') return (cached = false);
  const flags = cpuFlags();
  return (cached = flags.size > 0 && !['avx512_vnni', 'avx512vnni', 'avx_vnni', 'amx_int8'].some((f) => flags.has(f)));
}
