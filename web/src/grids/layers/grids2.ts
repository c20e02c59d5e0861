// Second-level grids (二级网格, one party group each): boundaries and labels (code, name,
// chief); their look beside the first level's in ../style.ts.
import { gridLayer } from '../style';

export default gridLayer(2);
