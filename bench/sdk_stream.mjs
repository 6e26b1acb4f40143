// make bench: one client, one awake sprite, through the official SDK (in
// the build tree's sdk-tests, put there by integration/test_sdk).
// Usage: node --experimental-websocket sdk_stream.mjs URL TOKEN SDK_DIR SPRITE MODE ...
//   true RUNS            execFile('true') RUNS times after a warm-up: prints
//                        "MEDIAN_MS P90_MS"
//   output BYTES RUNS    spawn() of a command writing BYTES to stdout (dd
//                        of 64 KiB blocks), read through the WebSocket:
//                        prints "MEDIAN_MB/s MIN MAX"; every byte is counted
// Errors go to stderr, and the exit status is 1.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [url, token, sdkDir, name, mode, ...rest] = process.argv.slice(2);
if (!url || !token || !sdkDir || !name || !['true', 'output'].includes(mode)) {
	console.error('usage: sdk_stream.mjs URL TOKEN SDK_DIR SPRITE true RUNS | output BYTES RUNS');
	process.exit(2);
}
const { SpritesClient } = await import(pathToFileURL(path.join(sdkDir,
    'node_modules/@fly/sprites/dist/index.js')).href);
const sprite = new SpritesClient(token, { baseURL: url, timeout: 120000 }).sprite(name);

const median = (v) => {
	const s = [...v].sort((x, y) => x - y);
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const nth = (v, p) => [...v].sort((x, y) => x - y)[Math.min(v.length - 1,
    Math.ceil(p / 100 * v.length) - 1)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

// One run of @cmd: resolves with [stdout bytes, exit code, ms from spawn to exit].
function stream(cmd) {
	return new Promise((resolve, reject) => {
		const t0 = process.hrtime.bigint();
		const c = sprite.spawn('sh', ['-c', cmd]);
		let n = 0;
		c.stdout.on('data', (b) => { n += b.length; });
		c.stderr.on('data', (b) => process.stderr.write(b));
		c.on('error', reject);
		c.on('exit', (code) => resolve([n, code, ms(t0)]));
	});
}

if (mode === 'true') {
	const runs = Number(rest[0] || 50), times = [];
	for (let i = 0; i < 3; i++)
		await sprite.execFile('true');
	for (let i = 0; i < runs; i++) {
		const t0 = process.hrtime.bigint();
		await sprite.execFile('true');
		times.push(ms(t0));
	}
	console.log(`${median(times).toFixed(1)} ${nth(times, 90).toFixed(1)}`);
} else {
	const bytes = Number(rest[0] || 50000000), runs = Number(rest[1] || 5);
	const blocks = Math.ceil(bytes / 65536), want = blocks * 65536, rates = [];
	const cmd = `dd if=/dev/zero bs=65536 count=${blocks} 2>/dev/null`;
	await stream('true');
	for (let i = 0; i < runs; i++) {
		const [n, code, t] = await stream(cmd);
		if (n !== want || code !== 0) {
			console.error(`run ${i}: ${n} bytes of ${want}, exit ${code}`);
			process.exit(1);
		}
		rates.push(n / t / 1000);
	}
	console.log(`${median(rates).toFixed(1)} ${Math.min(...rates).toFixed(1)} ` +
	    `${Math.max(...rates).toFixed(1)}`);
}
