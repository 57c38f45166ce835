/**
 * show_graph as a library call: the model's graph laid out, as an SVG and as an HTML page with
 * pan, zoom and search, written next to the model (or in a folder of the caller's choosing).
 */
import { basename, dirname, join, resolve } from 'node:path';
import { humanBytes } from '../../cli/format.js';
import type { ModelAnalysis } from '../../split/analysis.js';
import { OutputTransaction } from '../../split/output.js';
import type { SplitPoint } from '../../split/points.js';
import { graphHtml } from './html.js';
import { layoutGraph } from './layout.js';
import { modelGraph, type ModelGraph } from './model-graph.js';
import { graphSvg } from './svg.js';

export interface GraphPicture {
  graph: ModelGraph;
  svg: string;
  html: string;
}

/** The picture of `a`'s graph; with `chosen`, boxes coloured edge or cloud for that split point. */
export async function renderGraph(a: ModelAnalysis, chosen?: SplitPoint): Promise<GraphPicture> {
  const graph = modelGraph(a, chosen);
  const svg = graphSvg(graph, layoutGraph(graph, humanBytes), humanBytes);
  return { graph, svg, html: await graphHtml(graph, svg, humanBytes) };
}

/** `<dir>/<model>.graph.svg` and `.graph.html`; `dir` defaults to the model's folder. */
export function graphFiles(modelFile: string, dir?: string): { svg: string; html: string } {
  const stem = basename(modelFile).replace(/\.onnx$/i, '');
  const folder = dir ?? dirname(modelFile);
  return { svg: join(folder, `${stem}.graph.svg`), html: join(folder, `${stem}.graph.html`) };
}

export async function writeGraph(a: ModelAnalysis, modelFile: string, opts: { dir?: string; chosen?: SplitPoint } = {}): Promise<GraphPicture & { files: { svg: string; html: string } }> {
  const picture = await renderGraph(a, opts.chosen);
  const files = graphFiles(modelFile, opts.dir);
  // Both files or neither, each renamed into place only once both are complete.
  await OutputTransaction.run(dirname(resolve(files.svg)), async (tx) => {
    await tx.write(basename(files.svg), picture.svg);
    await tx.write(basename(files.html), picture.html);
  });
  return { ...picture, files };
}
