// Second-level grids (二级网格, one party group each): boundaries and labels (code, name, chief).
// Drawn from zoom 12 (a district; below it they are a few pixels wide, see grids1.ts).
import { gridLayer } from '../style';

export default gridLayer({
  level: 2,
  order: 40,
  colour: '#ef6c00',
  from: 12,
  fill: [0.3, 0.04],
  width: [13, 0.8, 17, 2.2],
  dashed: true,
  labels: [15],
  labelSize: 11,
  labelColour: '#8d3a00',
});
