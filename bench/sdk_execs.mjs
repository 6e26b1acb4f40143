// make bench: @total execs spread over @sprites sprites from @clients
// concurrent clients, through the official SDK installed in the build
// tree's sdk-tests (the integration tests put it there).
// Usage: node --experimental-websocket sdk_execs.mjs URL TOKEN SDK_DIR [total clients sprites]
// Prints "MEDIAN_MS P99_MS ERRORS"; the errors themselves go to stderr.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runExecs, percentile } from '../tests/sdk/execs.mjs';

const [url, token, sdkDir, total = '200', clients = '20', sprites = '4'] =
    process.argv.slice(2);
if (!url || !token || !sdkDir) {
	console.error('usage: sdk_execs.mjs URL TOKEN SDK_DIR [total clients sprites]');
	process.exit(2);
}
const { SpritesClient } = await import(pathToFileURL(path.join(sdkDir,
    'node_modules/@fly/sprites/dist/index.js')).href);
const make = () => new SpritesClient(token, { baseURL: url, timeout: 120000 });
const admin = make();
const names = Array.from({ length: Number(sprites) }, (_, i) => `bench-sdk-${i}`);

try {
	for (const n of names)
		await admin.createSprite(n);
	const { times, errors } = await runExecs(make, names, Number(total), Number(clients));
	for (const e of errors)
		console.error(e);
	console.log(`${percentile(times, 50).toFixed(1)} ${percentile(times, 99).toFixed(1)} ` +
	    `${errors.length}`);
} finally {
	for (const n of names)
		await admin.deleteSprite(n).catch(() => {});
}
