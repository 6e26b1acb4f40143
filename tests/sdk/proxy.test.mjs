// The SDK's port forwarding (sprite.proxyPort) against a live sprig: an
// HTTP server inside the sprite answers through the local port, bytes come
// back intact both ways, and a port with nothing listening closes the local
// connection instead of hanging it. Run by tests/integration/test_sdk.sh
// with SPRIG_URL and SPRIG_TOKEN set; it makes and deletes its own sprite.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { SpritesClient } from '@fly/sprites';

const url = process.env.SPRIG_URL;
const token = process.env.SPRIG_TOKEN;
assert.ok(url && token, 'SPRIG_URL and SPRIG_TOKEN must be set');

const client = new SpritesClient(token, { baseURL: url, timeout: 120000 });
const P = 'proxy-a';
let sprite;
const sessions = [];

after(async () => {
	for (const s of sessions)
		s.close();
	await client.deleteSprite(P).catch(() => {});
});

// The local port a session listens on.
function localPort(session) {
	return Number(session.localAddr().split(':').pop());
}

// Connects to @port, writes @data, and resolves with what comes back
// once @want bytes have (or the connection ends).
function roundTrip(port, data, want) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let got = 0;
		const s = connect({ host: 'localhost', port }, () => s.write(data));
		s.on('data', (d) => {
			chunks.push(d);
			got += d.length;
			if (got >= want)
				s.end();
		});
		s.on('close', () => resolve(Buffer.concat(chunks)));
		s.on('error', () => {});
		s.setTimeout(60000, () => reject(new Error('no answer in 60 s')));
	});
}

test('setup: a sprite with an HTTP server and an echo server', async () => {
	sprite = await client.createSprite(P);
	await sprite.execFile('sh', ['-c', 'mkdir -p /tmp/www && echo hello via the SDK > /tmp/www/index.html && ' +
	    'httpd -p 127.0.0.1:8080 -h /tmp/www && ' +
	    'setsid nc -ll -p 9000 -e cat </dev/null >/dev/null 2>&1 &']);
});

test('proxyPort: an HTTP server in the sprite answers on the local port', async () => {
	const s = await sprite.proxyPort(0, 8080);
	sessions.push(s);
	const r = await fetch(`http://localhost:${localPort(s)}/index.html`);
	assert.equal(r.status, 200);
	assert.equal(await r.text(), 'hello via the SDK\n');
});

test('proxyPort: 1 MiB through an echo comes back byte for byte', async () => {
	const s = await sprite.proxyPort(0, 9000, 'localhost');
	sessions.push(s);
	const data = randomBytes(1 << 20);
	const back = await roundTrip(localPort(s), data, data.length);
	assert.equal(back.length, data.length);
	assert.ok(back.equals(data), 'the echo differs');
});

test('proxyPort: nothing listening closes the local connection', async () => {
	const s = await sprite.proxyPort(0, 9);
	sessions.push(s);
	const back = await roundTrip(localPort(s), Buffer.from('hello?'), 1);
	assert.equal(back.length, 0);
});
