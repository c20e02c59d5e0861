// First-level grids (一级网格, one party branch each): boundaries and labels (code, name, chief).
// Drawn from zoom 11: a city seen whole (zoom 10) shows its communities, and thousands of
// grid outlines a few pixels wide would only cost frames (each drawn in software on a
// machine without a GPU) and tiles.
import { gridLayer } from '../style';

export default gridLayer({
  level: 1,
  order: 30,
  colour: '#c62828',
  from: 11,
  fill: [0.2, 0.01],
  width: [12, 1.5, 17, 3.5],
  labels: [13.5, 15.5],
  labelSize: 12,
  labelColour: '#c62828',
});
