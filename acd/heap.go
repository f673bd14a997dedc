package acd

// heapItem is an element of an indexedHeap: it knows its own order and keeps
// track of its slot, so it can be removed or re-ordered in O(log n) without a
// search. The order is always an explicit tuple comparison, never a packed
// score, so new keys (skill tier, priority aging) slot in as tuple fields.
type heapItem[T any] interface {
	comparable
	before(other T) bool
	setHeapIndex(i int) // -1 when the item leaves the heap
}

// indexedHeap is a binary min-heap. After warm-up it does not allocate: the
// backing slice keeps its capacity.
type indexedHeap[T heapItem[T]] struct {
	items []T
}

func (h *indexedHeap[T]) len() int { return len(h.items) }

// peek returns the first item; ok is false when the heap is empty.
func (h *indexedHeap[T]) peek() (item T, ok bool) {
	if len(h.items) == 0 {
		return item, false
	}
	return h.items[0], true
}

func (h *indexedHeap[T]) push(x T) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	x.setHeapIndex(i)
	h.up(i)
}

func (h *indexedHeap[T]) pop() T {
	return h.remove(0)
}

// remove takes out the item at slot i.
func (h *indexedHeap[T]) remove(i int) T {
	last := len(h.items) - 1
	x := h.items[i]
	if i != last {
		h.swap(i, last)
	}
	var zero T
	h.items[last] = zero // drop the reference for the GC
	h.items = h.items[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	x.setHeapIndex(-1)
	return x
}

// fix restores the order after the key of the item at slot i changed.
func (h *indexedHeap[T]) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *indexedHeap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].setHeapIndex(i)
	h.items[j].setHeapIndex(j)
}

func (h *indexedHeap[T]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.items[i].before(h.items[parent]) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down sifts slot i towards the leaves and reports whether it moved.
func (h *indexedHeap[T]) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		left := 2*i + 1
		if left >= n {
			break
		}
		child := left
		if right := left + 1; right < n && h.items[right].before(h.items[left]) {
			child = right
		}
		if !h.items[child].before(h.items[i]) {
			break
		}
		h.swap(i, child)
		i = child
	}
	return i > start
}
