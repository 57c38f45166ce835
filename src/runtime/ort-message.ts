/**
 * onnxruntime's error messages without its source locations: an ORT_ENFORCE failure reads
 * "/onnxruntime_src/.../webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(...)::<lambda()>
 * adapter_result.status == ... was false. Failed to get a WebGPU adapter: No supported adapters",
 * of which a user needs the last sentence.
 */
export function ortMessage(message: string): string {
  // A kernel's failure during a run names the node: "Non-zero status code returned while running
  // Add node. Name:'p2o.Add.248' Status Message: <an ORT_ENFORCE failure>". The node stays.
  const kernel = /^Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: (.*)$/s.exec(message.trim());
  if (kernel) return `node '${kernel[2]}' (${kernel[1]}): ${ortMessage(kernel[3]!)}`;
  const located = message.replace(/(?:^|(?<=\s))\/?[\w./-]+\.(?:cc|cpp|cxx|h|hpp):\d+ (?:[\w:<>,*&~ ]*?\(.*?\)(?:::<lambda\(\)>)? )?/g, '');
  const enforced = /\bwas false\. (.+)$/.exec(located);
  return (enforced ? enforced[1]! : located).trim();
}

/**
 * An onnxruntime error as one line: every line of its message (an invalid input's dims come on
 * lines of their own: "index: 0 Got: 1 Expected: 1000000"), joined with "; ".
 */
export function ortLine(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  return text
    .split('\n')
    .map((l) => ortMessage(l).replace(/\s+/g, ' ').trim())
    .filter((l) => l !== '')
    .join('; ');
}
