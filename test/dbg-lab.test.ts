import { it } from 'vitest';
import { startLab } from './lab/lab.js';
it('up', async () => {
  const lab = await startLab({ dir: '/tmp/dbg-lab', backends: 2, agents: 1, net: 97, onProgress: (l) => console.log(l) });
  await lab.stop();
}, 200_000);
