// First-level grids (一级网格, one party branch each): boundaries and labels (code, name,
// chief); their look beside the second level's in ../style.ts.
import { gridLayer } from '../style';

export default gridLayer(1);
