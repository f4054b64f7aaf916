/**
 * The bare baseline of the HTTP enqueue rate: express 5 with its JSON body parser, answering 202 without doing
 * anything. `POST /api/tasks/:name` on the monitor is measured against it in the same run.
 *   tsx bench/bare-api.ts PORT
 */
import express from 'express';

const app = express();
app.use(express.json({ limit: 64 * 1024 }));
app.post('/api/tasks/:name', (req, res) => {
  res.status(202).json({ job_id: 'bare', task: req.params.name, queue: 'bare', status: 'queued' });
});
app.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('bare api listening'));
