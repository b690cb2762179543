// The examples' back end: a plain Node.js HTTP server, no dependencies.
// GET /hello   {"pod": ..., "message": ..., "time": ...}
// GET /healthz readiness.
'use strict';
// getBuiltinModule works whether this file is loaded as CommonJS (in the image) or as ESM.
const http = process.getBuiltinModule('node:http');

const port = Number(process.env.PORT || 8081);
const pod = process.env.POD_NAME || process.getBuiltinModule('node:os').hostname();
let served = 0;

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok\n');
  }
  if (req.url === '/hello') {
    served += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(`${JSON.stringify({ pod, message: `hello #${served} from ${pod}`, time: new Date().toISOString() })}\n`);
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify({ error: `no route ${req.url}` })}\n`);
});

server.listen(port, () => console.log(`api ${pod} listening on :${server.address().port}`));

process.on('SIGTERM', () => {
  console.log(`api ${pod} stopping`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
