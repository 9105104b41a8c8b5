/** `trd-worker doctor`: what this runner detected and would do, and whether it can reach the network. */
import { Command } from 'commander';
import { Socket } from 'node:net';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { getLlama } from 'node-llama-cpp';
import { hardwareClassFor, modelsThatFit } from '../hardware-classes.js';
import { envText } from './options.js';
import { hardwareOf } from '../zero-config.js';

const MiB = 1024 * 1024;

export async function tcpReachable(address: string, timeoutMs = 3000): Promise<string | true> {
  const [host, portText] = address.includes(':') ? [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)] : [address, '7233'];
  const port = Number(portText);
  // net.connect throws a RangeError for a bad port; doctor reports it like any other unreachable address.
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return `"${portText}" is not a port (1-65535): write --temporal-address host:port`;
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (r: string | true) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err) => done(err.message));
    socket.connect(port, host, () => done(true));
  });
}

async function httpReachable(url: string): Promise<string | true> {
  try {
    const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(3000) });
    return res.ok ? true : `HTTP ${res.status}`;
  } catch (err) {
    return (err as Error).message;
  }
}

export function doctorCommand(): Command {
  const env = process.env;
  return new Command('doctor')
    .description('show what this runner detected (OS, CPU, RAM, GPU, VRAM), the class and models it would pick, and whether Temporal and the gateway are reachable')
    .option('--temporal-address <host:port>', 'Temporal frontend to check', envText(env, 'TRD_TEMPORAL_ADDRESS'))
    .option('--gateway-url <url>', 'gateway to check', envText(env, 'TRD_GATEWAY_URL'))
    .option('--json', 'one JSON object, for scripts')
    .action(async (o) => {
      const llama = await getLlama({ logLevel: 'error' as never });
      const vram = await llama.getVramState();
      const hw = await hardwareOf(llama);
      const gpu = hw.gpu;
      const cls = hardwareClassFor(hw);
      const temporal = await tcpReachable(o.temporalAddress);
      const gateway = o.gatewayUrl ? await httpReachable(o.gatewayUrl) : 'not configured (--gateway-url or TRD_GATEWAY_URL)';
      const report = {
        os: `${platform()} ${release()} ${arch()}`,
        cpu: { model: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, math_cores: llama.cpuMathCores },
        ram_mib: Math.floor(totalmem() / MiB),
        gpu: {
          backend: gpu === false ? 'none (CPU)' : gpu,
          names: gpu === false ? [] : await llama.getGpuDeviceNames(),
          vram_total_mib: Math.floor(vram.total / MiB),
          vram_free_mib: Math.floor(vram.free / MiB),
          unified_memory_mib: Math.floor(vram.unifiedSize / MiB),
          offloading: llama.supportsGpuOffloading,
        },
        llama_cpp: { build: llama.buildType, version: `${llama.llamaCppRelease.repo} ${llama.llamaCppRelease.release}` },
        hardware_class: { key: cls.key, name: cls.name, context_size: cls.contextSize, gpu_layers: cls.gpuLayers, concurrency: cls.concurrency },
        would_serve: modelsThatFit(cls, hw.freeMiB),
        temporal: { address: o.temporalAddress, reachable: temporal === true, problem: temporal === true ? undefined : temporal },
        gateway: { url: o.gatewayUrl ?? null, reachable: gateway === true, problem: gateway === true ? undefined : gateway },
      };
      await llama.dispose();
      if (o.json) {
        console.log(JSON.stringify(report));
        return;
      }
      const line = (k: string, v: string) => console.log(`${k.padEnd(16)} ${v}`);
      line('os', report.os);
      line('cpu', `${report.cpu.model}, ${report.cpu.cores} cores (${report.cpu.math_cores} for math)`);
      line('ram', `${report.ram_mib} MiB`);
      line('gpu', report.gpu.backend + (report.gpu.names.length ? `: ${report.gpu.names.join(', ')}` : ''));
      line('vram', `${report.gpu.vram_free_mib} MiB free of ${report.gpu.vram_total_mib} MiB${report.gpu.unified_memory_mib ? ` (${report.gpu.unified_memory_mib} MiB unified)` : ''}`);
      line('llama.cpp', `${report.llama_cpp.version} (${report.llama_cpp.build})`);
      line('class', `${cls.name}: context ${cls.contextSize}, GPU layers ${cls.gpuLayers}, ${cls.concurrency} job(s) at once`);
      line('would serve', report.would_serve.join(', ') || 'nothing fits');
      line('temporal', `${o.temporalAddress} ${temporal === true ? 'reachable' : `NOT reachable: ${temporal}`}`);
      line('gateway', `${o.gatewayUrl ?? '-'} ${gateway === true ? 'reachable' : `NOT reachable: ${gateway}`}`);
    });
}
