package assist

// RoutingExample is one example conversation an admin gives a routing rule,
// embedded: a new conversation similar to it goes to Target (a team or an
// operator).
type RoutingExample struct {
	Target string
	Vector []float32
}

// Route returns the target whose examples are, on average over its best
// two, most similar to vec, and that similarity; "" when no example is
// similar at all (score ≤ minScore).
func Route(examples []RoutingExample, vec []float32, minScore float64) (string, float64) {
	best := map[string][2]float64{}
	for _, e := range examples {
		s := Cosine(vec, e.Vector)
		b := best[e.Target]
		switch {
		case s > b[0]:
			b[0], b[1] = s, b[0]
		case s > b[1]:
			b[1] = s
		}
		best[e.Target] = b
	}
	target, score := "", minScore
	for t, b := range best {
		if s := (b[0] + b[1]) / 2; s > score || s == score && target != "" && t < target {
			target, score = t, s
		}
	}
	return target, score
}
