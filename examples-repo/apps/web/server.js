// The examples' front end: a plain Node.js HTTP server, no dependencies.
// GET /        asks the api Service (found through the environment variables
//              API_SERVICE_HOST / API_SERVICE_PORT that Coxswain injects, as
//              Kubernetes does) and says which pods answered.
// GET /healthz readiness and liveness.
'use strict';
// getBuiltinModule works whether this file is loaded as CommonJS (in the image) or as ESM.
const http = process.getBuiltinModule('node:http');

const port = Number(process.env.PORT || 8080);
const pod = process.env.POD_NAME || process.getBuiltinModule('node:os').hostname();
const node = process.env.NODE_NAME || 'unknown node';
const greeting = process.env.GREETING || 'Hello';
const apiPath = process.env.API_PATH || '/hello';

function askApi() {
  return new Promise((resolve, reject) => {
    const host = process.env.API_SERVICE_HOST;
    const apiPort = process.env.API_SERVICE_PORT;
    if (!host || !apiPort) return reject(new Error('API_SERVICE_HOST/API_SERVICE_PORT are not set (is the api Service in this namespace?)'));
    const req = http.get({ host, port: apiPort, path: apiPath, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`api answered ${res.statusCode} with something that is not JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`api at ${host}:${apiPort} did not answer within 2 s`)));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok\n');
  }
  if (req.url !== '/' && req.url !== '/index.html') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('not found\n');
  }
  try {
    const answer = await askApi();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${greeting}: web pod ${pod} on ${node} -> api pod ${answer.pod} says "${answer.message}"\n`);
  } catch (err) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`${greeting}: web pod ${pod} on ${node} could not reach api: ${err.message}\n`);
  }
});

server.listen(port, () => console.log(`web ${pod} listening on :${server.address().port}`));

// Stop taking connections on SIGTERM and exit once the open ones are done.
process.on('SIGTERM', () => {
  console.log(`web ${pod} stopping`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
