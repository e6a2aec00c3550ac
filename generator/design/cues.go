package design

// Cue lists, in Spanish and English, as patterns (see compile). Words are
// matched lower-case with accents removed: "elección" is written "eleccion".

// cue is a bit set: what a token means around a match.
type cue uint16

const (
	cNeg        cue = 1 << iota // rejects what follows: "no", "sin", "avoid", "instead of", "descartamos"
	cNegWord                    // a plain negator, also read after the match: "etcd: no", "Istio is not needed"
	cPost                       // a rejection after the match: "Istio (descartado)", "ArgoCD was discarded"
	cChoice                     // a choice: "recomendamos", "we use", "elegimos", "✅"
	cPostChoice                 // a choice after the match: "k0s es la opción recomendada", "Argo CD is our choice"
	cCond                       // a condition before the match: "si", "if", "unless", "en el futuro"
	cCondFwd                    // a condition after the match: "solo si", "only if", "optional"
	cBoundary                   // ends a clause: "pero", "but", "porque", "sin embargo"
	cHedge                      // an explanation, not a recommendation: "requiere", "consume", "heavy"
	cCompare                    // a comparison: "vs", "frente a", "compared", "alternativa"
	cModal                      // a possibility, not a choice: "puede usar", "can run", "could use"
)

var negCues = newMatcher(
	// English
	"no", "not", "never", "without", "avoid*", "instead of", "rather than", "neither", "nor",
	"reject*", "discard*", "exclud*", "drop", "dropped", "dropping", "disable*", "forbid*",
	"prohibit*", "ban", "banned", "unlike", "except", "unnecessary", "overkill", "none",
	"zero !trust", "nothing", "rule out", "ruled out", "skip", "skipped", "skipping",
	"replac*", "remov*", "deny", "denies", "denied", "block", "blocks", "blocked", "blocking",
	"discourag*", "vs", "versus", "compared to", "compared with", "not recommended",
	// Spanish
	"nunca", "jamas", "tampoco", "sin !embargo", "ni", "evit*", "descart*", "rechaz*",
	"en lugar de", "en lugar del", "en vez de", "en vez del", "excepto", "deshabilit*",
	"desactiv*", "prohib*", "a diferencia de", "reemplaz*", "sustitu*", "innecesari*", "ningun",
	"ninguno", "ninguna", "nada", "cero", "elimin*", "frente a", "frente al", "prescind*",
	"desaconsej*", "excluy*", "bloque*", "deneg*", "deniega*", "comparado con",
	"en comparacion con",
	symNo,
)

var negWordCues = newMatcher("no", "not", "never", "nunca", "jamas", "none", "ninguno", "ninguna", "nada", symNo)

var postCues = newMatcher(
	"descartad*", "discarded", "rejected", "rechazad*", "innecesari*", "unnecessary",
	"overkill", "excluded", "excluid*", "prohibid*", "forbidden", "prohibited", "avoided",
	"evitad*", "disabled", "deshabilitad*", "desactivad*", "desaconsejad*", "discouraged",
	"not recommended", "not needed", "not required", "not necessary", "not used",
	"not an option", "not suitable", "not worth", "no recomendad*", "no es necesari*",
	"no son necesari*", "no hace falta", "no se", "no aplica", "no compensa", "too heavy",
	"too expensive", "demasiado*", "cerrad*", "closed", "blocked", "bloquead*",
	"out of scope", "fuera de alcance", "ruled out", "excesiv*", "excessive",
	"no es recomendable", "not advisable", "no es aconsejable", "not scale", "no escala*",
	"not viable", "inviable", "no es viable", "not feasible", "impractical", "unworkable",
	"does not work", "no funciona", "not fit", "no cabe", "no caben", "queda* fuera",
	"left out", "leave out", "se descarta", "se descartan", "se evita", "se evitan", "se rechaza",
	"se rechazan", "se excluye", "se excluyen", symNo,
)

var choiceCues = newMatcher(
	// English
	"recommend", "recommended", "recommends", "recommendation*", "choose", "chose", "chosen",
	"choice", "select", "selected", "pick", "picked", "prefer*", "adopt*", "use", "using",
	"go with", "opt for", "opted", "deploy", "deploying", "install", "installing", "run",
	"enable", "enabled", "rely on", "based on", "standardi*", "decision", "decided", "winner",
	// Spanish
	"recomend*", "recomiend*", "elegi*", "elij*", "eleccion", "escog*", "seleccion*",
	"usamos", "usaremos", "usar", "usando", "uso", "utilizamos", "utilizaremos", "utilizar",
	"utilizando", "empleamos", "emplear", "empleando", "desplegamos", "desplegar",
	"desplegaremos", "desplegando", "instalamos", "instalar", "instalaremos", "instalando",
	"optamos", "optar", "optado", "optaremos", "habilitamos", "habilitar", "habilitado",
	"habilitada", "activamos", "activar", "activado", "activada", "apostamos", "basad*",
	"decidimos", "ganador*", "ejecutamos", "ejecutar", "ejecutando", "nos quedamos con",
	"se usa*", "se utiliza*", "se despliega*", "se instala*", "se habilita*", "se activa*",
	"se emplea*", "se ejecuta*", "se elige", "se opta",
	symYes,
)

// Choices read after the match: predicates, not verbs ("MicroK8s se instala
// con snap" describes, "MicroK8s es la distribución elegida" chooses).
var postChoiceCues = newMatcher(
	"recommended", "recomendad*", "choice", "eleccion", "elegid*", "chosen", "selected",
	"seleccionad*", "preferred", "preferid*", "winner", "ganador*", "la opcion", "the option",
	symYes,
)

// Conditions: a heavy component kept as a future or conditional option is not
// a recommendation for the hardware at hand.
var condCues = newMatcher(
	"if", "si", "unless", "a menos que", "salvo que", "en caso de", "in case", "future",
	"futuro", "eventualmente", "eventually", "later", "mas adelante", "when needed",
	"cuando sea necesario",
)

var condFwdCues = newMatcher(
	"if", "si", "unless", "a menos", "salvo", "only if", "only when", "only where",
	"solo si", "solo cuando", "solo donde", "solamente si", "unicamente si", "opcional*",
	"solo tiene sentido", "solo tendria sentido", "solo compensa", "solo merece la pena",
	"only makes sense", "only worth", "only pays off",
	"optional*", "when needed", "cuando sea necesario", "future", "futuro", "later",
	"mas adelante",
)

var boundaryCues = newMatcher(
	"but", "however", "pero", "sino", "aunque", "although", "though", "whereas", "mientras",
	"sin embargo", "instead !of", "en su lugar", "because", "porque", "ya que", "dado que",
	"while",
)

// Explanations of a component's cost or nature; a mention in such a sentence
// is not read as a recommendation (an explicit choice still is).
var hedgeCues = newMatcher(
	"requires", "require", "requiere*", "exige*", "needs", "necesita*", "consum*", "heavy",
	"heavier", "pesad*", "overhead", "demasiad*", "too", "latenc*", "sensib*", "sensitive",
	"compatib*", "conform*", "certif*", "quorum", "costly", "costos*", "excesiv*", "excessive",
	"wasteful", "would", "seria", "serian", "podria*", "could", "might", "anadiria*",
	"implicaria*", "desastre", "disaster", "antipatron*", "anti pattern*", "antipattern*",
	"mala idea", "bad idea",
)

var compareCues = newMatcher(
	"vs", "versus", "compar*", "frente a", "frente al", "than", "alternativ*", "tradeoff*",
	"trade off*", "como en", "as in", "as with",
)

// Modal verbs before a choice word make it a possibility ("K3s can run with
// embedded etcd", "se podría usar Istio").
var modalCues = newMatcher(
	"can", "could", "may", "might", "would", "puede", "pueden", "podemos", "podria*",
	"podra*", "permite*", "allows", "supports", "soporta*",
)

// Filler words do not count in the window between a cue and a match.
var filler = map[string]bool{
	"a": true, "an": true, "the": true, "el": true, "la": true, "los": true, "las": true,
	"lo": true, "un": true, "una": true, "unos": true, "unas": true, "de": true, "del": true,
	"of": true, "y": true, "o": true, "u": true, "e": true, "and": true, "or": true,
	"to": true, "al": true,
}

// annotate marks each token of toks with the cues covering it.
func annotate(toks []token) []cue {
	ann := make([]cue, len(toks))
	mark := func(m *matcher, c cue) {
		for _, sp := range m.spans(toks) {
			for j := sp[0]; j < sp[1]; j++ {
				ann[j] |= c
			}
		}
	}
	mark(negCues, cNeg)
	mark(negWordCues, cNegWord)
	mark(postCues, cPost)
	mark(condCues, cCond)
	mark(condFwdCues, cCondFwd)
	mark(boundaryCues, cBoundary)
	mark(hedgeCues, cHedge)
	mark(compareCues, cCompare)
	mark(modalCues, cModal)
	// A choice word inside a negation ("not recommended") is a negation.
	for _, c := range []struct {
		m *matcher
		c cue
	}{{choiceCues, cChoice}, {postChoiceCues, cPostChoice}} {
		for _, sp := range c.m.spans(toks) {
			for j := sp[0]; j < sp[1]; j++ {
				if ann[j]&(cNeg|cPost) == 0 {
					ann[j] |= c.c
				}
			}
		}
	}
	return ann
}

// ---- section headings ----

// Tasks of the prompt, in order; Report.Sections is keyed by them.
const (
	TaskDistribution    = "distribution"
	TaskFleetManagement = "fleet-management"
	TaskResilience      = "resilience"
	TaskNodeSecurity    = "node-security"
)

// Tasks returns the prompt's four tasks in order.
func Tasks() []string {
	return []string{TaskDistribution, TaskFleetManagement, TaskResilience, TaskNodeSecurity}
}

var taskHeadings = map[string]*matcher{
	TaskDistribution: newMatcher(
		"distribuci*", "distribution*", "distro*", "k3s", "k0s", "microk8s", "micro k8s",
	),
	TaskFleetManagement: newMatcher(
		"fleet*", "flota*", "gitops", "flux", "fluxcd", "argocd", "argo cd", "overlay*",
		"kustomiz*",
	),
	TaskResilience: newMatcher(
		"resilien*", "outage*", "offline", "corte", "cortes", "desconex*", "disconnect*",
		"intermitent*", "intermittent*", "reconex*", "reconnect*", "autonom*", "toleran*",
		"sin conexion", "sin conectividad", "partition*", "particion*", "caida*",
		"network failure*", "fallos de red", "air gap*", "airgap*",
	),
	TaskNodeSecurity: newMatcher(
		"segur*", "security", "secure", "cifrad*", "encrypt*", "hardening", "bastionado",
		"zero trust", "zerotrust", "luks", "tpm*", "robo", "theft", "tamper*",
	),
}

// Headings of sections that list what the design rejects: nothing in them is
// read as a recommendation, unless the heading starts one of the four tasks.
var rejectHeadings = newMatcher(
	"descart*", "discard*", "reject*", "rechaz*", "alternativas", "alternatives",
	"alternativa* consider*", "alternative* consider*", "avoid", "evitar",
	"antipatron*", "anti pattern*", "antipattern*", "por que no", "why not",
	"not recommended", "no recomendad*", "desaconsejad*", "out of scope", "fuera de alcance",
	"lo que no", "what not", "what we do not", "pitfalls", "trampas",
)
