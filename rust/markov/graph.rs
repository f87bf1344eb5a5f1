//! The chain's shape, before any value is solved: edges as CSR rows and the strongly
//! connected components reachable from the start (iterative Tarjan), in the order that lets
//! `solve` finish each component after all of its successors.

pub(super) fn csr(
    n: usize,
    src: &[u32],
    dst: &[u32],
    prob: &[f64],
) -> (Vec<usize>, Vec<u32>, Vec<f64>) {
    let mut offsets = vec![0usize; n + 1];
    for &s in src {
        offsets[s as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut cols = vec![0u32; src.len()];
    let mut probs = vec![0.0; src.len()];
    for ((&s, &d), &p) in src.iter().zip(dst).zip(prob) {
        let k = &mut fill[s as usize];
        cols[*k] = d;
        probs[*k] = p;
        *k += 1;
    }
    (offsets, cols, probs)
}

/// Tarjan's strongly connected components of the states reachable from `root`, iteratively
/// (chains are deep: a recursive walk would overflow the stack). Returns the states in emission
/// order and the component bounds.
pub(super) fn components(root: usize, offsets: &[usize], cols: &[u32]) -> (Vec<u32>, Vec<usize>) {
    const NEW: u32 = u32::MAX;
    let n = offsets.len() - 1;
    let mut index = vec![NEW; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut call: Vec<(usize, usize)> = vec![(root, offsets[root])];
    let mut next = 0u32;
    index[root] = 0;
    low[root] = 0;
    next += 1;
    stack.push(root as u32);
    on_stack[root] = true;
    let mut order: Vec<u32> = Vec::new();
    let mut bounds = vec![0usize];
    while let Some(&(v, e)) = call.last() {
        if e < offsets[v + 1] {
            call.last_mut().expect("non-empty").1 = e + 1;
            let w = cols[e] as usize;
            if index[w] == NEW {
                index[w] = next;
                low[w] = next;
                next += 1;
                stack.push(w as u32);
                on_stack[w] = true;
                call.push((w, offsets[w]));
            } else if on_stack[w] {
                low[v] = low[v].min(index[w]);
            }
        } else {
            call.pop();
            if let Some(&(u, _)) = call.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w as usize] = false;
                    order.push(w);
                    if w as usize == v {
                        break;
                    }
                }
                bounds.push(order.len());
            }
        }
    }
    (order, bounds)
}
